//! Whether a Trigger can fire, in words a person can act on (its `Ready`
//! condition). The CRD's rules catch what they can at admission; these are
//! the checks they cannot make.

use minitask_api::{Param, ParamValue, TaskKind, TaskRef, Trigger, cel};

use super::{Cron, parse};

/// The names a webhook filter may use.
pub const FILTER_NAMES: [&str; 3] = ["body", "headers", "event"];

/// What is wrong with `trigger`, or its parsed schedule (None for a
/// webhook). `task_exists`/`pipeline_exists` answer from the caches.
pub fn check(
    trigger: &Trigger,
    task_exists: &dyn Fn(&TaskRef) -> bool,
    pipeline_exists: &dyn Fn(&str) -> bool,
) -> Result<Option<Cron>, String> {
    let run = &trigger.spec.run;
    if let Some(task) = &run.task_ref
        && !task_exists(task)
    {
        let place = match task.kind {
            TaskKind::Task => "in this namespace",
            TaskKind::ClusterTask => "in the cluster",
        };
        return Err(format!(
            "spec.run.taskRef: {} does not exist {place}; create it or fix the name",
            task.describe()
        ));
    }
    if let Some(pipeline) = &run.pipeline_ref
        && !pipeline_exists(&pipeline.name)
    {
        return Err(format!(
            "spec.run.pipelineRef: Pipeline {} does not exist in this namespace; create it or fix the name",
            pipeline.name
        ));
    }
    let scheduled = trigger.spec.schedule.is_some();
    for reference in run.params.iter().flat_map(references) {
        let for_webhook = reference == "event" || reference.starts_with("body.") || reference.starts_with("headers.");
        if scheduled && for_webhook {
            return Err(format!(
                "spec.run.params: $({reference}) is filled only for webhooks; a schedule has $(schedule.time)"
            ));
        }
        if reference.starts_with("schedule.") && (reference != "schedule.time" || !scheduled) {
            return Err(format!(
                "spec.run.params: $({reference}) is not known; a schedule has $(schedule.time), a webhook $(body.…), $(headers.…) and $(event)"
            ));
        }
    }
    if let Some(hook) = &trigger.spec.webhook
        && let Some(filter) = &hook.filter
    {
        cel::compile(filter, &FILTER_NAMES).map_err(|e| format!("spec.webhook.filter is not valid CEL: {e}"))?;
    }
    trigger.spec.schedule.as_ref().map(parse).transpose()
}

/// The `$(…)` references in a param's value.
fn references(param: &Param) -> Vec<String> {
    let texts: Vec<&str> = match &param.value {
        ParamValue::String(text) => vec![text],
        ParamValue::Array(items) => items.iter().map(String::as_str).collect(),
        ParamValue::Other(_) => Vec::new(),
    };
    let mut found = Vec::new();
    for text in texts {
        let mut rest = text;
        while let Some(start) = rest.find("$(") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].to_string());
            rest = &after[end + 1..];
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use minitask_api::{Schedule, SecretKeyRef, TaskRef, TriggerRun, TriggerSpec, Webhook};

    fn trigger(schedule: Option<&str>, filter: Option<&str>, param: &str) -> Trigger {
        Trigger::new(
            "t",
            TriggerSpec {
                run: TriggerRun {
                    task_ref: Some(TaskRef::task("build")),
                    params: vec![Param {
                        name: "p".into(),
                        value: ParamValue::String(param.into()),
                    }],
                    ..TriggerRun::default()
                },
                schedule: schedule.map(|cron| Schedule {
                    cron: cron.into(),
                    ..Schedule::default()
                }),
                webhook: schedule.is_none().then(|| Webhook {
                    secret_ref: SecretKeyRef {
                        name: "s".into(),
                        key: None,
                    },
                    filter: filter.map(String::from),
                    ..Webhook::default()
                }),
            },
        )
    }

    #[test]
    fn what_is_wrong_is_said_with_its_field() {
        let yes = |_: &str| true;
        let exists = |_: &TaskRef| true;
        let no = |_: &TaskRef| false;
        assert!(
            check(&trigger(Some("* * * * *"), None, "$(schedule.time)"), &exists, &yes)
                .unwrap()
                .is_some()
        );
        assert!(
            check(&trigger(None, Some("body.ref == 'x'"), "$(body.after)"), &exists, &yes)
                .unwrap()
                .is_none()
        );
        let cases = [
            (
                trigger(Some("* * * * *"), None, "x"),
                &no as &dyn Fn(&TaskRef) -> bool,
                "spec.run.taskRef: Task \"build\" does not exist in this namespace",
            ),
            (
                trigger(Some("* * * *"), None, "x"),
                &exists,
                "spec.schedule.cron \"* * * *\" has 4 fields",
            ),
            (
                trigger(Some("* * * * *"), None, "$(body.ref)"),
                &exists,
                "spec.run.params: $(body.ref) is filled only for webhooks",
            ),
            (
                trigger(None, None, "$(schedule.time)"),
                &exists,
                "spec.run.params: $(schedule.time) is not known",
            ),
            (
                trigger(None, Some("body.ref =="), "x"),
                &exists,
                "spec.webhook.filter is not valid CEL: the expression ends early",
            ),
            (
                trigger(None, Some("secret.x"), "x"),
                &exists,
                "spec.webhook.filter is not valid CEL: unknown name secret",
            ),
        ];
        let mut shared = trigger(Some("* * * * *"), None, "x");
        shared.spec.run.task_ref = Some(TaskRef {
            name: "git-clone".into(),
            kind: TaskKind::ClusterTask,
        });
        let got = check(&shared, &no, &yes).unwrap_err();
        assert!(
            got.starts_with("spec.run.taskRef: ClusterTask \"git-clone\" does not exist in the cluster"),
            "{got}"
        );
        for (t, tasks, want) in cases {
            let got = check(&t, tasks, &yes).unwrap_err();
            assert!(got.starts_with(want), "{got}");
        }
    }
}
