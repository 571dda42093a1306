//! The plan of one reconcile of a PipelineRun: a pure function of the run,
//! its Pipeline, the child TaskRuns that exist and the time. It says how
//! every task stands, which TaskRuns (and claims) to create, which to
//! cancel, the run's status, and when to look again. The shell
//! (runtime/pipelines.rs) does the I/O.
//!
//! The rules, as an experienced Tekton user expects them:
//! - a task runs once the tasks it runs after (`runAfter`, and those whose
//!   results it uses) have ended; `when` guards only the task itself, so
//!   tasks that merely run after a skipped task still run, while tasks
//!   that use its results are skipped too (their inputs do not exist);
//! - a failed task stops new tasks from starting; those running finish;
//! - `finally` tasks run once all the others have ended, whatever the
//!   outcome, cancellation included; they see `$(tasks.<t>.status)`,
//!   `$(tasks.status)` and the results the tasks wrote;
//! - timeouts: `pipeline` (1h) bounds the whole run, `tasks` the tasks,
//!   `finally` the finally tasks; each TaskRun gets what remains;
//! - `maxParallel` bounds the TaskRuns running at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::{Resource, ResourceExt};
use minitask_api::{
    LABEL_PIPELINE_TASK, ParamValue, Phase, PipelineReason, PipelineRun, PipelineRunStatus, PipelineSpec, PipelineTask,
    Reason, TaskRun, TaskState, format_duration,
};

use crate::pipeline::child::{child, child_name, claim};
use crate::pipeline::deadlines::{Deadlines, ended_at};
use crate::pipeline::graph::graph;
use crate::pipeline::matrix::combinations;
use crate::pipeline::messages::{outcome, progress_message, summary};
use crate::pipeline::validate::{DeclaredResults, validate};
use crate::pipeline::variables::{
    add_task, missing_input, pipeline_results, results, results_too_large, substitute, when_skips, with_results,
};
use crate::pipeline::view::{STOPPED, Stop, View, failed, is_finally};
use crate::pod::params;
use crate::pod::substitute::{Scope, Vars};
use crate::shared::set_succeeded;
use crate::status::refusal::{Refusal, retry_after};

/// What a reconcile knows about a PipelineRun.
pub struct Inputs<'a> {
    pub run: &'a PipelineRun,
    /// The Pipeline: the one recorded at start, or the one to start with.
    pub spec: &'a PipelineSpec,
    /// Every TaskRun labelled with the run's name, by name: its own, and
    /// those an earlier PipelineRun of the same name left.
    pub children: &'a BTreeMap<String, TaskRun>,
    /// Names of the run's TaskRuns that the API server says are taken by
    /// TaskRuns that are not its own.
    pub foreign: &'a [String],
    /// Creates of this reconcile the API server refused.
    pub refused: &'a [CreateRefused],
    /// The results the tasks' Tasks declare, where known (checked at start).
    pub declared: DeclaredResults<'a>,
    /// The claims the run made that exist.
    pub claims: &'a BTreeSet<String>,
    pub now: &'a Time,
}

/// A TaskRun or claim the API server would not create (a quota, a
/// webhook, an admission policy, a claim name taken by another object).
#[derive(Debug)]
pub struct CreateRefused {
    /// The TaskRun's or claim's name.
    pub name: String,
    pub claim: bool,
    pub refusal: Refusal,
}

/// What to do.
#[derive(Debug, Default)]
pub struct Plan {
    pub status: PipelineRunStatus,
    /// Claims to create first, then TaskRuns to create.
    pub claims: Vec<PersistentVolumeClaim>,
    pub create: Vec<TaskRun>,
    /// Running TaskRuns to cancel.
    pub cancel: Vec<String>,
    /// TaskRuns an earlier PipelineRun of the same name left: delete them
    /// (the run waits for them to go).
    pub delete_stale: Vec<TaskRun>,
    /// Claims to delete: the run has ended and does not keep them.
    pub delete_claims: Vec<String>,
    /// Look again after this long (a deadline), unless an event comes first.
    pub requeue: Option<Duration>,
}

pub fn plan(i: &Inputs) -> Plan {
    let run = i.run;
    let previous = run.status.clone().unwrap_or_default();
    if previous.phase.is_some_and(Phase::is_terminal) {
        return Plan {
            status: previous,
            ..Plan::default()
        };
    }
    let mut status = previous.clone();
    status.observed_generation = run.metadata.generation;
    // Checked once, when the run starts: afterwards the recorded Pipeline
    // is the one that runs.
    if previous.pipeline_spec.is_none() {
        let problems = validate(i.spec, i.declared);
        if !problems.is_empty() {
            let message = format!("the Pipeline is invalid: {}", problems.join("; "));
            return ended(status, PipelineReason::InvalidPipeline, message, i.now);
        }
        status.pipeline_spec = Some(Box::new(i.spec.clone()));
        status.start_time = Some(i.now.clone());
    }
    let values = match params::resolve(&i.spec.params, &run.spec.params) {
        Ok(values) => values,
        Err(problems) => return ended(status, PipelineReason::InvalidParams, problems.join("; "), i.now),
    };
    if let Err(problems) = check_workspaces(run, i.spec) {
        return ended(status, PipelineReason::InvalidWorkspaces, problems.join("; "), i.now);
    }
    let (own, stale): (BTreeMap<&String, &TaskRun>, Vec<&TaskRun>) = split(run, i.children);
    if !i.foreign.is_empty() {
        let message = format!(
            "TaskRun {} already exists and is not owned by PipelineRun {}; delete it or start a run with another name",
            i.foreign.join(", "),
            run.name_any()
        );
        let mut plan = ended(status, PipelineReason::TaskRunConflict, message, i.now);
        plan.cancel = running_children(&own);
        return plan;
    }
    let permanent = i.refused.iter().find(|r| matches!(r.refusal, Refusal::Permanent(_)));
    if let Some(CreateRefused {
        claim,
        refusal: Refusal::Permanent(message),
        ..
    }) = permanent
    {
        let reason = match claim {
            true => PipelineReason::ClaimFailed,
            false => PipelineReason::TaskRunRefused,
        };
        let mut plan = ended(status, reason, message.clone(), i.now);
        plan.cancel = running_children(&own);
        return plan;
    }
    if !stale.is_empty() {
        let names: Vec<String> = stale.iter().map(|c| c.name_any()).collect();
        let message = format!(
            "waiting for TaskRuns {}, left by an earlier PipelineRun named {}, to be deleted",
            names.join(", "),
            run.name_any()
        );
        return Plan {
            status: with_phase(status, Phase::Pending, PipelineReason::Pending, message, i.now),
            delete_stale: stale
                .into_iter()
                .filter(|c| c.metadata.deletion_timestamp.is_none())
                .cloned()
                .collect(),
            requeue: Some(Duration::from_secs(5)),
            ..Plan::default()
        };
    }
    let children: BTreeMap<String, TaskRun> = own.into_iter().map(|(n, c)| (n.clone(), c.clone())).collect();
    let graph = match graph(i.spec) {
        Ok(graph) => graph,
        Err(problems) => return ended(status, PipelineReason::InvalidPipeline, problems.join("; "), i.now),
    };
    let deadlines = Deadlines::of(run, i.spec, &children, i.now);
    let previous_end = previous.finally_start_time.as_ref().map(|t| t.0.as_second());
    let mut plan = Plan::default();
    let mut base = Vars::new(Scope::Pipeline);
    let name = run.name_any();
    let set = |vars: &mut Vars, key: &str, value: &str| {
        vars.values.insert(key.into(), ParamValue::String(value.into()));
    };
    set(&mut base, "context.pipelineRun.name", &name);
    set(
        &mut base,
        "context.pipelineRun.namespace",
        &run.namespace().unwrap_or_default(),
    );
    set(&mut base, "context.pipeline.name", run.pipeline_name().unwrap_or(&name));
    for (param, value) in &values {
        base.values.insert(format!("params.{param}"), value.clone());
    }
    // Claims first: every TaskRun that mounts one waits for it anyway.
    for binding in &run.spec.workspaces {
        if let Some(claim) = claim(run, binding, i.claims).filter(|c| !i.claims.contains(&c.name_any())) {
            plan.claims.push(claim);
        }
    }
    let ctx = Ctx {
        i,
        previous: &previous,
        children: &children,
        graph: &graph,
        base: &base,
        deadlines: &deadlines,
    };
    // A first look, creating nothing, finds whether a task has failed
    // (then nothing new starts) and whether the tasks had all ended before
    // their timeout (then it no longer applies: the finally tasks run on).
    let first = ctx.tasks(None, None);
    // A failed TaskRun (one of a matrix still running, too) stops new
    // starts at once.
    let failed = first.iter().any(|v| v.state == TaskState::Failed)
        || children
            .values()
            .any(|c| !is_finally(i.spec, c) && c.phase() == Phase::Failed);
    let tasks_end = previous_end.or_else(|| {
        let done = first.iter().all(|v| v.state.is_done());
        done.then(|| ended_at(children.values().filter(|c| !is_finally(i.spec, c)), i.now).unwrap_or(i64::MIN))
    });
    let tasks_timed_out = deadlines.tasks_over(i.now) && tasks_end.is_none_or(|end| end >= deadlines.tasks);
    let stop = if run.spec.cancelled {
        Some(Stop::Cancelled)
    } else if tasks_timed_out {
        Some(Stop::TimedOut)
    } else if failed {
        Some(Stop::Failed)
    } else {
        None
    };
    let mut running = children.values().filter(|c| !c.phase().is_terminal()).count();
    let views = ctx.tasks(stop, Some((&mut plan, &mut running)));
    let tasks_done = views.iter().all(|v| v.state.is_done());
    let mut finals: Vec<View> = vec![View::default(); i.spec.finally.len()];
    if tasks_done && status.finally_start_time.is_none() {
        status.finally_start_time = Some(i.now.clone());
    }
    if tasks_done {
        let vars = with_results(&base, i.spec, &views, Some(stop));
        let pipeline_over = deadlines.pipeline_over(i.now).then_some(Stop::TimedOut);
        for (f, task) in i.spec.finally.iter().enumerate() {
            let deadline = deadlines.for_task(task, true, i.now);
            finals[f] = ctx.advance(task, &vars, pipeline_over, deadline, Some((&mut plan, &mut running)));
        }
    } else {
        for view in &mut finals {
            view.message = Some("waiting for every task to end".into());
        }
    }
    // Stop what must stop: tasks once the run is cancelled or its tasks
    // are out of time, everything once the whole run is.
    for child in children.values() {
        let finally = is_finally(i.spec, child);
        let over = deadlines.pipeline_over(i.now) || (!finally && (run.spec.cancelled || tasks_timed_out));
        if over && !child.phase().is_terminal() && !child.spec.cancelled {
            plan.cancel.push(child.name_any());
        }
    }

    let mut kept = 0;
    let tasks = i.spec.tasks.iter().zip(&views).map(|(t, v)| (t, v, false));
    let finally = i.spec.finally.iter().zip(&finals).map(|(t, v)| (t, v, true));
    status.tasks = tasks
        .chain(finally)
        .map(|(t, v, finally)| summary(t, v, finally, &mut kept))
        .collect();
    let all: Vec<&View> = views.iter().chain(&finals).collect();
    let done = all.iter().filter(|v| v.state.is_done()).count();
    status.progress = Some(format!("{done}/{}", all.len()));
    if done == all.len() && plan.create.is_empty() {
        // Over the pipeline's timeout only if something was still going
        // on at it: a run whose last TaskRun ended in time and that
        // started everything it had to did not time out, however late
        // this look comes.
        let cut_short = finals.iter().any(|v| v.reason.as_deref() == Some(STOPPED));
        let over = deadlines.pipeline_over(i.now)
            && (cut_short || ended_at(children.values(), i.now).is_none_or(|end| end >= deadlines.pipeline));
        let (reason, message) = outcome(i.spec, &views, &finals, stop, over);
        let results = pipeline_results(i.spec, &views, &finals);
        let (reason, message) = match results_too_large(&results) {
            Some(why) => (PipelineReason::ResultsTooLarge, why),
            None => {
                status.results = results;
                (reason, message)
            }
        };
        plan.delete_claims = run
            .spec
            .workspaces
            .iter()
            .filter(|b| b.volume_claim_template.is_some() && !b.keep)
            .filter_map(|b| claim(run, b, i.claims).map(|c| c.name_any()))
            .collect();
        plan.claims.clear();
        plan.status = ended(status, reason, message, i.now).status;
        return plan;
    }
    // Running once it has a TaskRun (even a pending one): Pending only
    // before that.
    let started = !children.is_empty() || !plan.create.is_empty() || all.iter().any(|v| v.state != TaskState::Pending);
    let (phase, reason) = match started {
        true => (Phase::Running, PipelineReason::Running),
        false => (Phase::Pending, PipelineReason::Pending),
    };
    let mut message = progress_message(i.spec, &views, &finals, stop);
    plan.requeue = deadlines.next(i.now);
    // A refusal that may pass later (a full quota): say the API server's
    // words at once, and try again with backoff.
    let retrying: Vec<&str> = i
        .refused
        .iter()
        .filter_map(|r| match &r.refusal {
            Refusal::Retry(text) => Some(text.as_str()),
            Refusal::Permanent(_) => None,
        })
        .collect();
    if !retrying.is_empty() {
        message = format!("{}; {message}", retrying.join("; "));
        let created = run.metadata.creation_timestamp.as_ref().map_or(0, |t| t.0.as_second());
        let age = Duration::from_secs(i.now.0.as_second().saturating_sub(created).max(0) as u64);
        let again = retry_after(age);
        plan.requeue = Some(plan.requeue.map_or(again, |r| r.min(again)));
    }
    plan.status = with_phase(status, phase, reason, message, i.now);
    plan
}

/// What every task's view is computed from.
struct Ctx<'a> {
    i: &'a Inputs<'a>,
    /// The status the run had: what it recorded of each task.
    previous: &'a PipelineRunStatus,
    /// The run's own TaskRuns.
    children: &'a BTreeMap<String, TaskRun>,
    graph: &'a crate::pipeline::graph::Graph,
    base: &'a Vars,
    deadlines: &'a Deadlines,
}

/// Where new TaskRuns go, and how many run: None for a look that starts
/// nothing.
type Starts<'a> = Option<(&'a mut Plan, &'a mut usize)>;

impl Ctx<'_> {
    /// The view of every task (not finally), in the Pipeline's order.
    fn tasks(&self, stop: Option<Stop>, mut starts: Starts) -> Vec<View> {
        let spec = self.i.spec;
        let mut views: Vec<View> = vec![View::default(); spec.tasks.len()];
        // Built once, in graph order: a task sees the results and states
        // of the tasks before it (its parents among them).
        let mut vars = self.base.clone();
        for &t in &self.graph.order {
            let task = &spec.tasks[t];
            let waiting: Vec<&str> = self.graph.parents[t]
                .iter()
                .filter(|&&p| !views[p].state.is_done())
                .map(|&p| spec.tasks[p].name.as_str())
                .collect();
            if !waiting.is_empty() {
                views[t] = View {
                    message: Some(format!("waiting for {}", waiting.join(", "))),
                    ..View::default()
                };
            } else {
                let timeout = self.deadlines.for_task(task, false, self.i.now);
                let starts = starts.as_mut().map(|(plan, running)| (&mut **plan, &mut **running));
                views[t] = self.advance(task, &vars, stop, timeout, starts);
            }
            add_task(&mut vars, task, &views[t]);
        }
        views
    }

    /// Moves one task along: its TaskRuns' states, or whether it starts now.
    fn advance(&self, task: &PipelineTask, vars: &Vars, stop: Option<Stop>, timeout: Duration, starts: Starts) -> View {
        let i = self.i;
        if let Some(view) = missing_input(task, vars) {
            return view;
        }
        let mut problems = Vec::new();
        let what = format!("task {:?}", task.name);
        if let Some(skipped) = when_skips(task, vars, &what, &mut problems) {
            return skipped;
        }
        let params = substitute(&task.params, vars, &what, &mut problems);
        let runs = match &task.matrix {
            None => Ok(vec![(child_name(&i.run.name_any(), &task.name, None), params)]),
            Some(matrix) => {
                let axes = substitute(&matrix.params, vars, &what, &mut problems);
                combinations(&axes).map(|combos| {
                    combos
                        .into_iter()
                        .enumerate()
                        .map(|(n, combo)| {
                            let mut all = params.clone();
                            all.extend(combo);
                            (child_name(&i.run.name_any(), &task.name, Some(n)), all)
                        })
                        .collect()
                })
            }
        };
        let runs = match runs {
            Ok(runs) if problems.is_empty() => runs,
            Ok(_) => return failed("InvalidParams", problems.join("; ")),
            Err(why) => return failed("InvalidParams", format!("{what}: {why}")),
        };
        // A TaskRun is this task's only if its label says so: another task
        // (a plain `t-1` beside a matrix `t`) may want the same name.
        let theirs = runs.iter().find_map(|(n, _)| {
            let child = self.children.get(n)?;
            let label = child.labels().get(LABEL_PIPELINE_TASK);
            (label != Some(&task.name)).then(|| (n, label.cloned().unwrap_or_default()))
        });
        if let Some((name, other)) = theirs {
            return failed(
                "TaskRunConflict",
                format!("TaskRun {name} is the run's TaskRun of task {other:?}; rename one of the two tasks"),
            );
        }
        let existing: Vec<&TaskRun> = runs.iter().filter_map(|(n, _)| self.children.get(n)).collect();
        // A TaskRun the status records but that is gone was deleted: an ended
        // task keeps what the status says; a running one failed.
        let recorded = self.previous.tasks.iter().find(|t| t.name == task.name);
        if let Some(recorded) = recorded {
            let gone: Vec<&String> = recorded
                .task_runs
                .iter()
                .filter(|n| !self.children.contains_key(*n))
                .collect();
            if !gone.is_empty() {
                if recorded.state.is_done() {
                    return View {
                        state: recorded.state,
                        reason: recorded.reason.clone(),
                        message: recorded.message.clone(),
                        task_runs: recorded.task_runs.clone(),
                        results: recorded
                            .results
                            .iter()
                            .map(|r| (r.name.clone(), r.value.clone()))
                            .collect(),
                    };
                }
                return View {
                    task_runs: recorded.task_runs.clone(),
                    ..failed(
                        "TaskRunDeleted",
                        format!("TaskRun {} was deleted before it ended", gone[0]),
                    )
                };
            }
        }
        if let (true, Some(stop)) = (existing.is_empty(), stop) {
            return View::skipped(STOPPED, stop.message().into());
        }
        let mut view = View {
            task_runs: existing.iter().map(|c| c.name_any()).collect(),
            ..View::default()
        };
        // A failed TaskRun stops the task: no more of its matrix starts.
        let failed_one = existing.iter().any(|c| c.phase() == Phase::Failed);
        // Start what may start.
        if let (None, false, Some((plan, running))) = (stop, failed_one, starts) {
            let room = |running: usize| i.spec.max_parallel.is_none_or(|m| running < m.max(1) as usize);
            // Nothing starts on a claim the API server refused.
            let claim_refused = i.refused.iter().any(|r| r.claim);
            let refused = |n: &String| claim_refused || i.refused.iter().any(|r| !r.claim && r.name == *n);
            for (name, params) in runs
                .iter()
                .filter(|(n, _)| !self.children.contains_key(n) && !refused(n))
            {
                if !room(*running) {
                    break;
                }
                plan.create
                    .push(child(i.run, task, name.clone(), params.clone(), timeout, i.claims));
                view.task_runs.push(name.clone());
                *running += 1;
            }
        }
        let all_exist = existing.len() == runs.len();
        let ended: Vec<&&TaskRun> = existing.iter().filter(|c| c.phase().is_terminal()).collect();
        view.results = results(&existing, task.matrix.is_some());
        if let Some(bad) = existing.iter().find(|c| c.phase() == Phase::Failed)
            && ended.len() == existing.len()
        {
            let status = bad.status.clone().unwrap_or_default();
            view.state = TaskState::Failed;
            view.reason = status.reason.clone();
            let never = match runs.len() - existing.len() {
                0 => String::new(),
                n => format!(" ({n} of its {} TaskRuns did not start)", runs.len()),
            };
            view.message = Some(format!(
                "TaskRun {}: {}{never}",
                bad.name_any(),
                status.message.unwrap_or_default()
            ));
        } else if all_exist && ended.len() == existing.len() {
            view.state = TaskState::Succeeded;
        } else if !all_exist && stop.is_some() && ended.len() == existing.len() {
            view.state = TaskState::Failed;
            view.reason = Some(STOPPED.into());
            view.message = Some(format!(
                "{} of its {} TaskRuns ran before the run stopped",
                existing.len(),
                runs.len()
            ));
        } else if existing.iter().any(|c| c.phase() != Phase::Pending) {
            view.state = TaskState::Running;
        } else if let Some(status) = existing
            .iter()
            .filter_map(|c| c.status.as_ref())
            .find(|s| s.reason.as_deref() == Some(Reason::TaskNotFound.as_str()))
        {
            // Waiting for its Task to be created: the run's message says so.
            view.reason = status.reason.clone();
            view.message = status.message.clone();
        } else {
            view.message = Some(match (existing.is_empty(), view.task_runs.is_empty()) {
                (true, true) => "waiting for room under maxParallel".into(),
                _ => "its TaskRuns are starting".into(),
            });
        }
        view
    }
}

/// The run's own TaskRuns, and those an earlier PipelineRun of the same
/// name left (owned by another UID). Any other is a conflict the API
/// server reports when a create meets it.
pub(crate) fn split<'a>(
    run: &PipelineRun,
    children: &'a BTreeMap<String, TaskRun>,
) -> (BTreeMap<&'a String, &'a TaskRun>, Vec<&'a TaskRun>) {
    let uid = run.metadata.uid.as_deref();
    let mut own = BTreeMap::new();
    let mut stale = Vec::new();
    for (name, child) in children {
        let owner = child.owner_references().iter().find(|o| o.controller == Some(true));
        match owner {
            Some(o) if Some(o.uid.as_str()) == uid => {
                own.insert(name, child);
            }
            Some(o) if is_earlier_run(o, run) => stale.push(child),
            _ => {}
        }
    }
    (own, stale)
}

/// The names of the run's TaskRuns that have not ended.
fn running_children(own: &BTreeMap<&String, &TaskRun>) -> Vec<String> {
    own.values()
        .filter(|c| !c.phase().is_terminal())
        .map(|c| c.name_any())
        .collect()
}

/// Whether `owner` is an earlier PipelineRun of `run`'s name: the same
/// kind in the same API group (another group's PipelineRun, Tekton's, is
/// not ours to step over).
fn is_earlier_run(owner: &OwnerReference, run: &PipelineRun) -> bool {
    let group = format!("{}/", PipelineRun::group(&()));
    owner.kind == PipelineRun::kind(&()) && owner.api_version.starts_with(&group) && owner.name == run.name_any()
}

/// The status of a run whose Pipeline does not exist (yet): Pending, or
/// Failed with reason Timeout once its pipeline timeout has passed (it
/// counts from creation, pending included, as a TaskRun's does); and how
/// long until that timeout.
pub fn not_found(run: &PipelineRun, message: String, now: &Time) -> (PipelineRunStatus, Option<Duration>) {
    let mut status = run.status.clone().unwrap_or_default();
    status.observed_generation = run.metadata.generation;
    let deadlines = Deadlines::of(run, &PipelineSpec::default(), &BTreeMap::new(), now);
    match deadlines.pipeline_over(now) {
        true => {
            let message = format!("the run did not start within its timeout; it was still pending: {message}");
            (
                with_phase(status, Phase::Failed, PipelineReason::Timeout, message, now),
                None,
            )
        }
        false => (
            with_phase(status, Phase::Pending, PipelineReason::PipelineNotFound, message, now),
            deadlines.next(now),
        ),
    }
}

/// Every required workspace bound, every binding declared, an emptyDir
/// only for a workspace one task uses.
fn check_workspaces(run: &PipelineRun, spec: &PipelineSpec) -> Result<(), Vec<String>> {
    let problems = minitask_api::binding_problems(spec, &run.spec.workspaces);
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems),
    }
}

/// `status` moved to `phase` for `reason`, with its Succeeded condition
/// (its transition time moves only when its status does).
fn with_phase(
    mut status: PipelineRunStatus,
    phase: Phase,
    reason: PipelineReason,
    message: String,
    now: &Time,
) -> PipelineRunStatus {
    set_succeeded(&mut status.conditions, phase, reason.as_str(), &message, now);
    status.phase = Some(phase);
    status.reason = Some(reason.to_string());
    status.message = Some(message);
    if phase.is_terminal() {
        let end = status.completion_time.get_or_insert_with(|| now.clone()).clone();
        let start = status.start_time.get_or_insert_with(|| end.clone()).clone();
        let seconds = end.0.as_second().saturating_sub(start.0.as_second()).max(0);
        status.duration = Some(format_duration(Duration::from_secs(seconds as u64)));
    }
    status
}

/// A plan that ends the run now.
fn ended(status: PipelineRunStatus, reason: PipelineReason, message: String, now: &Time) -> Plan {
    let phase = match reason {
        PipelineReason::Succeeded => Phase::Succeeded,
        _ => Phase::Failed,
    };
    Plan {
        status: with_phase(status, phase, reason, message, now),
        ..Plan::default()
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
