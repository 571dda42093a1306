//! The archive against a real kube-apiserver and etcd, authorized as its
//! deployed ServiceAccount; its API behind the API server's aggregation
//! layer. There is no kubelet here: a pod's log cannot be read, which is
//! the case of a pod whose node is gone (e2e covers real logs). The S3
//! tests run on a real S3 server (SeaweedFS) of their own.

mod api;
mod archiving;
mod common;
mod s3;
mod shards;
