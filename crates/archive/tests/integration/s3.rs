//! The archive on a real S3 server (SeaweedFS's S3 gateway, started by the
//! test like etcd and kube-apiserver): signed writes, listing by prefix
//! and delimiter, reads and deletes go through the S3 protocol, and a
//! store that goes away is waited for.

use std::time::Duration;

use crate::common::{World, archived, said_unavailable};
use kube::api::Api;
use minitask_api::TaskRun;
use minitask_archive::api::read;
use minitask_archive::api::route::List;
use minitask_archive::keys::Kind;
use minitask_archive::prune::{Retention, prune};
use minitask_archive::record::taskrun_key;
use serde_json::json;

#[tokio::test]
async fn on_s3_every_ended_run_is_archived_listed_newest_first_in_pages_and_pruned() {
    let w = World::on_s3("s3").await;
    let archive = w.archive().await;
    let mut keys = Vec::new();
    for (n, ended) in ["2026-12-03T01:00:00Z", "2026-12-03T02:00:00Z", "2026-12-03T03:00:00Z"]
        .iter()
        .enumerate()
    {
        let name = format!("s3-{}", n + 1);
        let run = w
            .ended_taskrun_with(&name, "build", "Succeeded", ended, json!({"team": "a"}))
            .await;
        keys.push(taskrun_key(&run).unwrap().record());
    }
    let runs: Api<TaskRun> = Api::namespaced(w.client.clone(), &w.ns);
    for (n, key) in keys.iter().enumerate() {
        let said = archived(&runs, &format!("s3-{}", n + 1), "True").await.message;
        assert_eq!(said, format!("archived in s3://minitask-archive/{}/{key}", w.ns));
    }
    let store = w.store();
    let list = |limit, after| List {
        kind: Kind::TaskRun,
        namespace: w.ns.clone(),
        limit,
        after,
        selector: Default::default(),
        task: None,
        phase: None,
    };
    let first = read::list(&store, &list(2, None)).await.unwrap();
    let names: Vec<&str> = first.records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["s3-3", "s3-2"], "newest first");
    let second = read::list(&store, &list(2, first.last.clone())).await.unwrap();
    let names: Vec<&str> = second.records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["s3-1"]);
    let newest = read::newest(&store, Kind::TaskRun, &w.ns, "s3-2").await.unwrap();
    assert_eq!(newest.object["metadata"]["labels"]["team"], "a");

    // Keep the newest run of the Task: the two others go, pointers and all.
    let retention = Retention {
        max_age: None,
        keep_per_task: Some(1),
    };
    assert_eq!(prune(&store, retention, 0).await.unwrap(), 2);
    let left = read::list(&store, &list(10, None)).await.unwrap();
    let names: Vec<&str> = left.records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["s3-3"]);
    assert!(read::newest(&store, Kind::TaskRun, &w.ns, "s3-1").await.is_err());
    archive.abort();
}

#[tokio::test]
async fn an_s3_store_that_goes_away_is_said_and_the_run_is_archived_once_it_is_back() {
    let mut w = World::on_s3("s3-down").await;
    let archive = w.archive().await;
    w.s3.as_mut().unwrap().stop();
    let run = w.ended_taskrun("gone-1").await;
    let runs: Api<TaskRun> = Api::namespaced(w.client.clone(), &w.ns);
    said_unavailable(&runs, "gone-1").await;
    // Down a while longer: the archive keeps trying, with backoff.
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.s3.as_mut().unwrap().start_again().unwrap();
    archived(&runs, "gone-1", "True").await;
    assert!(w.record(&taskrun_key(&run).unwrap().record()).await.is_some());
    archive.abort();
}
