//! `Trigger`: starts a TaskRun or PipelineRun on a schedule (run by the
//! controller) or on a signed webhook delivery (received by minitask-hooks).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Param, PipelineRef, PipelineWorkspaceBinding, TaskRef, Timeouts};

/// Label on every run a Trigger starts: the Trigger's name.
pub const LABEL_TRIGGER: &str = "minitask.dev/trigger";
/// Label a webhook's Secret must carry: minitask-hooks watches only those.
pub const LABEL_WEBHOOK_SECRET: &str = "minitask.dev/webhook-secret";
/// The key of a webhook's Secret that holds the shared secret, unless
/// `secretRef.key` names another.
pub const DEFAULT_SECRET_KEY: &str = "secret";

/// A Trigger: a run started by a schedule or by a signed webhook.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "minitask.dev",
    version = "v1alpha1",
    kind = "Trigger",
    namespaced,
    status = "TriggerStatus",
    shortname = "trg",
    category = "minitask",
    doc = "A Trigger starts a TaskRun or PipelineRun on a cron schedule or on a signed webhook delivery, exactly once per fire time or delivery.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the Trigger can fire"
    ),
    printcolumn(
        name = "Schedule",
        type_ = "string",
        json_path = ".spec.schedule.cron",
        description = "When it fires (schedules)"
    ),
    printcolumn(
        name = "Next",
        type_ = "date",
        json_path = ".status.nextFireTime",
        description = "Its next fire time (schedules)"
    ),
    printcolumn(
        name = "Last Run",
        type_ = "string",
        json_path = ".status.lastRun",
        description = "The run it started last"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(
    validation = Rule::new("has(self.schedule) != has(self.webhook)")
        .message("set exactly one of schedule (a cron schedule) or webhook (a signed HTTP endpoint)"),
)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSpec {
    /// The run to start.
    pub run: TriggerRun,
    /// Start the run on a cron schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Start the run on a signed webhook delivery, received by minitask-hooks
    /// at `/hooks/{namespace}/{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

/// What a Trigger starts. Param values may use `$(body.path)`,
/// `$(headers.name)` and `$(event)` (webhooks) or `$(schedule.time)`
/// (schedules); a reference that cannot be filled starts nothing and is
/// reported.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(
    validation = Rule::new("has(self.taskRef) != has(self.pipelineRef)")
        .message("set exactly one of taskRef (a Task's name) or pipelineRef (a Pipeline's name)"),
    validation = Rule::new("!has(self.timeouts) || has(self.pipelineRef)")
        .message("timeouts applies to a pipelineRef; use timeout for a taskRef"),
    validation = Rule::new("!has(self.workspaces) || has(self.pipelineRef) || self.workspaces.all(w, !has(w.volumeClaimTemplate))")
        .message("volumeClaimTemplate needs a pipelineRef; bind a persistentVolumeClaim or emptyDir for a taskRef"),
)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRun {
    /// The Task (or, with `kind: ClusterTask`, the ClusterTask) to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ref: Option<TaskRef>,
    /// The Pipeline to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_ref: Option<PipelineRef>,
    /// Param values; strings may hold `$(…)` references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[x_kube(validation = Rule::new("self.all(p, self.exists_one(q, q.name == p.name))")
        .message("each param may be given only once"))]
    pub params: Vec<Param>,
    /// Workspace bindings (volumeClaimTemplate only for a pipelineRef).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub workspaces: Vec<PipelineWorkspaceBinding>,
    /// The ServiceAccount the run's pods use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// A TaskRun's timeout (e.g. `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub timeout: Option<String>,
    /// A PipelineRun's timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    /// Delete the run this long after it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: Option<i64>,
    /// Labels for the run (besides `minitask.dev/trigger`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A cron schedule.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Five fields (minute hour day-of-month month day-of-week) or a macro:
    /// `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`.
    #[schemars(
        length(max = 200),
        regex(
            pattern = r"^\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+\s+\S+\s+\S+\s+\S+\s+\S+)\s*$"
        )
    )]
    pub cron: String,
    /// The IANA time zone the fields are read in (e.g. `Europe/Berlin`);
    /// UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub time_zone: Option<String>,
    /// While a run it started still runs: `Allow` another, `Forbid` (skip
    /// the fire time) or `Replace` (cancel it, then start).
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// A fire time missed by more than this many seconds (the controller
    /// was down) is skipped and counted; unset: any missed fire time is
    /// started late, at most one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub starting_deadline_seconds: Option<i64>,
    /// Fire no more while true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// What a schedule does while a run it started still runs.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConcurrencyPolicy {
    #[default]
    Allow,
    Forbid,
    Replace,
}

/// A webhook endpoint.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// The Secret (in the Trigger's namespace, labelled
    /// `minitask.dev/webhook-secret=true`) whose key holds the shared secret.
    pub secret_ref: SecretKeyRef,
    /// How deliveries are signed and named.
    #[serde(default)]
    pub provider: Provider,
    /// The event types to accept (`X-GitHub-Event`, `X-Gitlab-Event` or
    /// `X-Event`); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub events: Vec<String>,
    /// A CEL expression over `body`, `headers` and `event`; a delivery is
    /// started only when it is true (e.g. `body.ref == "refs/heads/main"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub filter: Option<String>,
    /// Deliveries per second accepted for this Trigger (a burst of twice as
    /// many); more get 429. Default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub rate_limit: Option<u32>,
}

/// A key of a Secret in the Trigger's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key; `secret` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// How a webhook's deliveries are signed.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// HMAC-SHA256 of the body in `X-Signature-256` (`sha256=<hex>`),
    /// event in `X-Event`, delivery id in `X-Delivery`.
    #[default]
    Generic,
    /// HMAC-SHA256 in `X-Hub-Signature-256`, event in `X-GitHub-Event`,
    /// delivery id in `X-GitHub-Delivery`.
    Github,
    /// The secret itself in `X-Gitlab-Token`, event in `X-Gitlab-Event`,
    /// delivery id in `X-Gitlab-Event-UUID`.
    Gitlab,
}

/// What a Trigger did and whether it can fire.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TriggerStatus {
    /// `Ready`: whether it can fire, and if not, what to fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last fire time that was handled (started, skipped or refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fire_time: Option<Time>,
    /// The next fire time (schedules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_fire_time: Option<Time>,
    /// The run it started last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    /// Runs started.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fired: i64,
    /// Fire times skipped, by why: `Missed` (past startingDeadlineSeconds
    /// or more than one missed), `Forbidden` (a run still ran), `Suspended`,
    /// `Invalid` (a param could not be filled).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, i64>,
    /// The last webhook delivery (written by minitask-hooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery: Option<Delivery>,
    /// Webhook deliveries refused, by reason (written by minitask-hooks).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rejected: BTreeMap<String, i64>,
    /// Whether minitask-hooks has the webhook's secret: `Found`, or what is
    /// wrong with its Secret (written by minitask-hooks, which alone may
    /// read Secrets; the controller's `Ready` repeats it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// One webhook delivery and what came of it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The delivery's id (from the provider's header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When it arrived.
    pub time: Time,
    /// `Started`, `Duplicate`, `Filtered`, `Ignored` or the reason it was refused.
    pub outcome: String,
    /// The run it started or found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `status.webhookSecret` when the secret is there.
pub const SECRET_FOUND: &str = "Found";

impl Trigger {
    /// The webhook's secret key.
    pub fn secret_key(&self) -> Option<(&str, &str)> {
        let hook = self.spec.webhook.as_ref()?;
        Some((
            hook.secret_ref.name.as_str(),
            hook.secret_ref.key.as_deref().unwrap_or(DEFAULT_SECRET_KEY),
        ))
    }
}
