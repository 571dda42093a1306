//! minitask-hooks on a real kube-apiserver and etcd, in-process as its
//! deployed ServiceAccount (impersonated), over real HTTP.

mod common;
mod corpus;
mod deliveries;
