//! The corpus of bad input (crates/api/tests/corpus/, read by
//! `minitask_testenv::corpus`): every object the API server must refuse is
//! refused with a message that names its field, and every run that cannot
//! work ends with its documented reason and a message that says what to fix.

use std::time::Duration;

use crate::common::World;
use minitask_controller::Config;
use minitask_testenv::corpus::{admission_cases, check_admission, check_runtime, runtime_cases, start_runtime};
use minitask_testenv::{CONTROLLER_USER, ControlPlane};

#[tokio::test]
async fn every_bad_object_is_refused_naming_its_field() {
    let w = World::new("corpus").await;
    let cases = admission_cases().unwrap();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if let Err(e) = check_admission(&w.client, &w.ns, i, case).await {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} admission cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_run_that_cannot_work_ends_with_its_documented_reason() {
    let client = ControlPlane::shared().client().await;
    let cases = runtime_cases().unwrap();
    let mut controllers = Vec::new();
    let mut namespaces = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let ns = start_runtime(&client, "corpus-run", i, case).await.unwrap();
        let w = World {
            client: client.clone(),
            ns: ns.clone(),
        };
        let config = Config {
            namespace: Some(ns.clone()),
            ..Config::default()
        };
        let as_controller = ControlPlane::shared().client_as(CONTROLLER_USER).await;
        controllers.push(w.controller_with_config(as_controller, config).await);
        namespaces.push(ns);
    }
    let checks = cases
        .iter()
        .zip(&namespaces)
        .map(|(case, ns)| check_runtime(&client, ns, case, Duration::from_secs(30)));
    let failures: Vec<String> = futures::future::join_all(checks)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} runtime cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    drop(controllers);
}
