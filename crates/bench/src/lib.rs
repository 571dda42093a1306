//! What `cargo xtask bench` and `cargo xtask chaos` share: a control plane
//! of their own with the controller as a separate process (plane), the
//! simulated kubelet, the load generator and the watches that time runs.

pub mod kubelet;
pub mod load;
pub mod observe;
pub mod plane;
