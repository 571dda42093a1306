//! The "bad input" row: the corpus of malformed objects (refused at
//! admission, naming the field) and of runs that cannot work (ending with
//! their documented reason), run against the release controller. The same
//! corpus is an integration test; here its figures are printed.

use std::time::Duration;

use minitask_testenv::corpus::{admission_cases, check_admission, check_runtime, runtime_cases, start_runtime};

use crate::replica::{Replica, Spec};
use crate::stage::Stage;
use crate::table::Row;

pub async fn run() -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let spec = Spec::new(0, "corpus", 1, Duration::from_secs(15));
    stage.members.push(spec.member());
    let _replica = Replica::start(&stage.plane, &spec).await?;
    let client = stage.plane.client.clone();
    let admission = admission_cases()?;
    let runtime = runtime_cases()?;
    let mut refused = 0;
    for (i, case) in admission.iter().enumerate() {
        match check_admission(&client, minitask_bench::plane::NAMESPACE, i, case).await {
            Ok(()) => refused += 1,
            Err(e) => stage.problems.push(e),
        }
    }
    let mut namespaces = Vec::new();
    for (i, case) in runtime.iter().enumerate() {
        namespaces.push(start_runtime(&client, "corpus", i, case).await?);
    }
    let checks = runtime
        .iter()
        .zip(&namespaces)
        .map(|(case, ns)| check_runtime(&client, ns, case, Duration::from_secs(30)));
    let mut ended = 0;
    for result in futures::future::join_all(checks).await {
        match result {
            Ok(()) => ended += 1,
            Err(e) => stage.problems.push(e),
        }
    }
    stage.notes.push(format!(
        "{refused} of {} malformed objects refused at admission with a message naming the field; {ended} of {} runs that cannot work ended with their documented reason and what to fix",
        admission.len(),
        runtime.len()
    ));
    let mut row = stage.finish("bad input");
    row.runs = admission.len() + runtime.len();
    row.finished = refused + ended;
    Ok(row)
}
