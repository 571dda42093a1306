//! Integration tests on a real kube-apiserver and etcd (see
//! `minitask-testenv`). The controller runs in-process as the deployed
//! ServiceAccount; the tests play the kubelet by writing pod status.

mod admission;
mod cluster_tasks;
mod common;
mod corpus;
mod deadline;
mod disruption;
mod features;
mod lifecycle;
mod pipelines;
mod refusals;
mod requests;
mod retention;
mod shards;
mod triggers;
