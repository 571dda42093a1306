//! minitask-hooks: receives webhook deliveries for Triggers at
//! `/hooks/{namespace}/{name}` and starts their runs, exactly once per
//! delivery id. It runs apart from the controller, which stays off the
//! network path.
//!
//! Pure: `deliver` (signature, event, filter, the run) and `limit` (rate).
//! Shell: `server` (HTTP), `cache` (Triggers and their Secrets), `record`
//! (status counters and Events, batched).

pub mod cache;
pub mod deliver;
pub mod limit;
#[cfg(test)]
mod properties;
pub mod record;
pub mod server;

pub use server::{Config, serve};
