//! Triggers: whether one can fire (`check`), when a schedule fires
//! (`cron`) and what one look at it does (`plan`). Pure: the clock's
//! reading and the Trigger's running runs come in, a plan comes out;
//! `runtime::triggers` does the I/O.

mod check;
mod cron;
mod plan;

pub use check::{FILTER_NAMES, check};
pub use cron::{Cron, parse};
pub use plan::{Plan, Running, plan, run_name};
