//! Objects for the pure unit tests.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use minitask_api::{Step, TaskRef, TaskRun, TaskRunSpec, TaskSpec};

pub fn script_step(name: &str, script: &str) -> Step {
    Step {
        name: name.into(),
        image: Some("busybox".into()),
        script: Some(script.into()),
        ..Step::default()
    }
}

pub fn task(steps: &[&str]) -> TaskSpec {
    TaskSpec {
        steps: steps.iter().map(|s| script_step(s, &format!("echo {s}"))).collect(),
        ..TaskSpec::default()
    }
}

pub fn taskrun(name: &str, task: &str) -> TaskRun {
    let mut run = TaskRun::new(
        name,
        TaskRunSpec {
            task_ref: Some(TaskRef::task(task)),
            ..TaskRunSpec::default()
        },
    );
    run.metadata = ObjectMeta {
        name: Some(name.into()),
        namespace: Some("ns".into()),
        uid: Some("uid-1".into()),
        generation: Some(1),
        ..ObjectMeta::default()
    };
    run
}
