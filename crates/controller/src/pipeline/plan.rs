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
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use kube::{Resource, ResourceExt};
use minitask_api::{
    CONDITION_SUCCEEDED, DEFAULT_TIMEOUT, LABEL_PIPELINE_TASK, MAX_TIMEOUT, Param, ParamValue, Phase, PipelineReason,
    PipelineRun, PipelineRunStatus, PipelineSpec, PipelineTask, PipelineTaskStatus, TaskRun, TaskRunResult, TaskState,
    WhenOperator, format_duration, parse_duration,
};

use crate::pipeline::child::{child, child_name, claim};
use crate::pipeline::graph::graph;
use crate::pipeline::matrix::combinations;
use crate::pipeline::refs::{Ref, refs, texts};
use crate::pipeline::validate::{DeclaredResults, validate};
use crate::pod::params;
use crate::pod::substitute::{Field, Scope, Vars, Whole};
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

/// How one task stands in this reconcile.
#[derive(Clone, Debug, Default)]
struct View {
    state: TaskState,
    reason: Option<String>,
    message: Option<String>,
    task_runs: Vec<String>,
    /// Its results: a string each, a list each for a matrix.
    results: BTreeMap<String, ParamValue>,
}

impl View {
    fn skipped(reason: &str, message: String) -> View {
        View {
            state: TaskState::Skipped,
            reason: Some(reason.into()),
            message: Some(message),
            ..View::default()
        }
    }
}

/// Why tasks that have not started never will.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stop {
    Failed,
    Cancelled,
    TimedOut,
}

impl Stop {
    fn message(self) -> &'static str {
        match self {
            Stop::Failed => "a task failed before it could start",
            Stop::Cancelled => "the run was cancelled before it could start",
            Stop::TimedOut => "the run's tasks timed out before it could start",
        }
    }
}

/// The reason of a task that did not start because the run stopped; its
/// `$(tasks.<name>.status)` is `None`.
const STOPPED: &str = "Stopped";

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
                continue;
            }
            let vars = with_results(self.base, spec, &views, None);
            let timeout = self.deadlines.for_task(task, false, self.i.now);
            let starts = starts.as_mut().map(|(plan, running)| (&mut **plan, &mut **running));
            views[t] = self.advance(task, &vars, stop, timeout, starts);
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
        if !when_holds(task, vars, &what, &mut problems) && problems.is_empty() {
            let conditions: Vec<String> = task
                .when
                .iter()
                .map(|w| {
                    format!(
                        "{} {} [{}]",
                        w.input,
                        if w.operator == WhenOperator::In { "in" } else { "notin" },
                        w.values.join(", ")
                    )
                })
                .collect();
            return View::skipped("WhenFalse", format!("its when is false: {}", conditions.join(" and ")));
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
fn split<'a>(
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

fn failed(reason: &str, message: String) -> View {
    View {
        state: TaskState::Failed,
        reason: Some(reason.into()),
        message: Some(message),
        ..View::default()
    }
}

/// A task that uses a result that does not exist is skipped: its input
/// is missing (the task that should have written it was skipped, or did
/// not write it).
fn missing_input(task: &PipelineTask, vars: &Vars) -> Option<View> {
    for text in texts(task) {
        for reference in refs(text) {
            if let Ref::Result { task: source, result } = reference
                && !vars.values.contains_key(&format!("tasks.{source}.results.{result}"))
            {
                let why = match vars.values.get(&format!("tasks.{source}.status")) {
                    Some(ParamValue::String(s)) if s == "Skipped" || s == "None" => {
                        format!("task {source:?} was skipped")
                    }
                    Some(ParamValue::String(s)) if s == "Failed" => {
                        format!("task {source:?} failed without writing it")
                    }
                    _ => format!("task {source:?} did not write it"),
                };
                return Some(View::skipped(
                    "ResultMissing",
                    format!("it uses $(tasks.{source}.results.{result}), which does not exist: {why}"),
                ));
            }
        }
    }
    None
}

fn when_holds(task: &PipelineTask, vars: &Vars, what: &str, problems: &mut Vec<String>) -> bool {
    task.when.iter().all(|w| {
        let input = vars.string(&w.input, Field::Raw, what, problems);
        let values = vars.list_in(&w.values, Field::Raw, what, problems);
        let found = values.contains(&input);
        match w.operator {
            WhenOperator::In => found,
            WhenOperator::NotIn => !found,
        }
    })
}

/// `params` with every reference replaced; a value that is exactly
/// `$(<array>[*])` becomes the array.
fn substitute(params: &[Param], vars: &Vars, what: &str, problems: &mut Vec<String>) -> Vec<Param> {
    params
        .iter()
        .map(|p| {
            let what = format!("{what} param {:?}", p.name);
            let value = match &p.value {
                ParamValue::String(s) => match vars.whole_array(s, &what, problems) {
                    Whole::Items(items) => ParamValue::Array(items.clone()),
                    Whole::Problem => ParamValue::String(s.clone()),
                    Whole::No => ParamValue::String(vars.string(s, Field::Raw, &what, problems)),
                },
                ParamValue::Array(items) => ParamValue::Array(vars.list_in(items, Field::Raw, &what, problems)),
                other => other.clone(),
            };
            Param {
                name: p.name.clone(),
                value,
            }
        })
        .collect()
}

/// The results of a task's TaskRuns: each TaskRun reports them when it
/// ends (also a failed one, when it could). A matrix's are lists, in the
/// order of its combinations, present only when every TaskRun wrote it.
fn results(children: &[&TaskRun], matrix: bool) -> BTreeMap<String, ParamValue> {
    let of = |c: &TaskRun| -> Vec<TaskRunResult> { c.status.as_ref().map(|s| s.results.clone()).unwrap_or_default() };
    if !matrix {
        return children
            .first()
            .map(|c| {
                of(c)
                    .into_iter()
                    .map(|r| (r.name, ParamValue::String(r.value)))
                    .collect()
            })
            .unwrap_or_default();
    }
    let names: BTreeSet<String> = children.iter().flat_map(|c| of(c)).map(|r| r.name).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let values: Option<Vec<String>> = children
                .iter()
                .map(|c| of(c).into_iter().find(|r| r.name == name).map(|r| r.value))
                .collect();
            Some((name, ParamValue::Array(values?)))
        })
        .collect()
}

/// `base` with the results and states of the tasks so far; for finally
/// tasks (`stop` given) also `$(tasks.<t>.status)` and `$(tasks.status)`.
fn with_results(base: &Vars, spec: &PipelineSpec, views: &[View], stop: Option<Option<Stop>>) -> Vars {
    let mut vars = base.clone();
    for (task, view) in spec.tasks.iter().zip(views) {
        for (name, value) in &view.results {
            vars.values
                .insert(format!("tasks.{}.results.{name}", task.name), value.clone());
        }
        let state = match (view.state, view.reason.as_deref()) {
            (TaskState::Skipped, Some(STOPPED)) => "None",
            (state, _) => state.as_str(),
        };
        vars.values
            .insert(format!("tasks.{}.status", task.name), ParamValue::String(state.into()));
    }
    if let Some(stop) = stop {
        let all = match (stop, views.iter().any(|v| v.state == TaskState::Failed)) {
            (_, true) | (Some(Stop::Failed | Stop::TimedOut), _) => "Failed",
            (Some(Stop::Cancelled), false) => "Cancelled",
            (None, false) => "Succeeded",
        };
        vars.values
            .insert("tasks.status".into(), ParamValue::String(all.into()));
    }
    vars
}

/// How a run whose tasks have all ended ends.
fn outcome(
    spec: &PipelineSpec,
    views: &[View],
    finals: &[View],
    stop: Option<Stop>,
    over: bool,
) -> (PipelineReason, String) {
    let failed: Vec<String> = spec
        .all_tasks()
        .zip(views.iter().chain(finals))
        .filter(|(_, v)| v.state == TaskState::Failed)
        .map(|(t, v)| {
            let why = v.message.as_deref().map(|m| cut(m, 300)).unwrap_or_default();
            format!(
                "task {} failed ({}): {why}",
                t.name,
                v.reason.clone().unwrap_or_default()
            )
        })
        .collect();
    let ran_finally = match finals.len() {
        0 => String::new(),
        _ => "; the finally tasks ran".into(),
    };
    match (stop, over) {
        (Some(Stop::TimedOut), _) | (_, true) => (
            PipelineReason::Timeout,
            format!("the run went over its timeouts; tasks that had not started did not run{ran_finally}"),
        ),
        (Some(Stop::Cancelled), _) => (
            PipelineReason::Cancelled,
            format!("the run was cancelled (spec.cancelled); tasks that had not started did not run{ran_finally}"),
        ),
        _ if !failed.is_empty() => (
            PipelineReason::TaskFailed,
            format!("{}; see `kubectl task describe` of its TaskRuns", failed.join("; ")),
        ),
        _ => {
            let skipped = views
                .iter()
                .chain(finals)
                .filter(|v| v.state == TaskState::Skipped)
                .count();
            let ran = views.len() + finals.len() - skipped;
            let message = match skipped {
                0 => format!("all {ran} tasks succeeded"),
                _ => format!("{ran} tasks succeeded, {skipped} skipped"),
            };
            (PipelineReason::Succeeded, message)
        }
    }
}

/// At most `max` bytes of `text`, cut on a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
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

/// The Pipeline's results, from its tasks' results; one whose references
/// do not all exist is left out.
fn pipeline_results(spec: &PipelineSpec, views: &[View], finals: &[View]) -> Vec<TaskRunResult> {
    let mut vars = Vars::new(Scope::Pipeline);
    for (task, view) in spec.all_tasks().zip(views.iter().chain(finals)) {
        for (name, value) in &view.results {
            let text = match value {
                ParamValue::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            vars.values
                .insert(format!("tasks.{}.results.{name}", task.name), ParamValue::String(text));
        }
    }
    spec.results
        .iter()
        .filter_map(|r| {
            let mut problems = Vec::new();
            let value = vars.string(&r.value, Field::Raw, "result", &mut problems);
            problems.is_empty().then(|| TaskRunResult {
                name: r.name.clone(),
                value,
            })
        })
        .collect()
}

/// The most bytes of task results a PipelineRun's status keeps, all tasks
/// together (a TaskRun reports at most 8 KiB; a matrix task many times
/// that). A task whose results would go over is recorded without them.
pub const MAX_KEPT_RESULTS: usize = 256 * 1024;
/// The most bytes a Pipeline's results may hold together.
pub const MAX_PIPELINE_RESULTS: usize = 128 * 1024;

/// How `task` stands, for the status; an ended task keeps its results
/// while `kept` (bytes so far) stays within `MAX_KEPT_RESULTS`.
fn summary(task: &PipelineTask, view: &View, finally: bool, kept: &mut usize) -> PipelineTaskStatus {
    let results: Vec<Param> = match view.state {
        TaskState::Succeeded | TaskState::Failed => view
            .results
            .iter()
            .map(|(name, value)| Param {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let size: usize = results.iter().map(|r| r.name.len() + value_size(&r.value)).sum();
    let results = match *kept + size <= MAX_KEPT_RESULTS {
        true => {
            *kept += size;
            results
        }
        false => Vec::new(),
    };
    PipelineTaskStatus {
        name: task.name.clone(),
        task_runs: view.task_runs.clone(),
        state: view.state,
        reason: view.reason.clone(),
        message: view.message.clone(),
        finally,
        results,
    }
}

fn value_size(value: &ParamValue) -> usize {
    match value {
        ParamValue::String(s) => s.len(),
        ParamValue::Array(items) => items.iter().map(String::len).sum(),
        ParamValue::Other(other) => other.to_string().len(),
    }
}

/// Why `results` cannot be kept, if they are over `MAX_PIPELINE_RESULTS`.
fn results_too_large(results: &[TaskRunResult]) -> Option<String> {
    let total: usize = results.iter().map(|r| r.value.len()).sum();
    if total <= MAX_PIPELINE_RESULTS {
        return None;
    }
    let largest = results.iter().max_by_key(|r| r.value.len())?;
    Some(format!(
        "the Pipeline's results hold {total} bytes together, more than the {} KiB a PipelineRun keeps (result {:?} alone is {} bytes); make them smaller, or pass a reference (a path or a digest) instead of the data",
        MAX_PIPELINE_RESULTS / 1024,
        largest.name,
        largest.value.len()
    ))
}

fn progress_message(spec: &PipelineSpec, views: &[View], finals: &[View], stop: Option<Stop>) -> String {
    let named = |state: TaskState| -> Vec<&str> {
        spec.all_tasks()
            .zip(views.iter().chain(finals))
            .filter(|(_, v)| v.state == state)
            .map(|(t, _)| t.name.as_str())
            .collect()
    };
    let mut parts = Vec::new();
    for (state, word) in [(TaskState::Running, "running"), (TaskState::Pending, "waiting")] {
        let names = named(state);
        if !names.is_empty() {
            parts.push(format!("{word}: {}", names.join(", ")));
        }
    }
    if let Some(stop) = stop {
        parts.push(
            match stop {
                Stop::Failed => "a task failed: no new task starts, then the finally tasks run",
                Stop::Cancelled => "cancelled: no new task starts, then the finally tasks run",
                Stop::TimedOut => "the tasks timed out: the finally tasks run next",
            }
            .into(),
        );
    }
    parts.join("; ")
}

fn is_finally(spec: &PipelineSpec, child: &TaskRun) -> bool {
    let task = child.labels().get(minitask_api::LABEL_PIPELINE_TASK);
    spec.finally.iter().any(|f| Some(&f.name) == task)
}

/// Every required workspace bound, every binding declared, an emptyDir
/// only for a workspace one task uses.
fn check_workspaces(run: &PipelineRun, spec: &PipelineSpec) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for binding in &run.spec.workspaces {
        if !spec.workspaces.iter().any(|w| w.name == binding.name) {
            problems.push(format!(
                "workspace {:?} is bound, but the Pipeline declares {}",
                binding.name,
                match spec.workspaces.is_empty() {
                    true => "no workspaces".to_string(),
                    false => format!(
                        "only {}",
                        spec.workspaces
                            .iter()
                            .map(|w| w.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            ));
        }
        let users = spec
            .all_tasks()
            .filter(|t| t.workspaces.iter().any(|w| w.workspace == binding.name))
            .count();
        if binding.empty_dir.is_some() && users > 1 {
            problems.push(format!(
                "workspace {:?} is an emptyDir but {users} tasks use it: an emptyDir lives in one pod; bind a persistentVolumeClaim or a volumeClaimTemplate to share files between tasks",
                binding.name
            ));
        }
    }
    for declared in spec.workspaces.iter().filter(|w| !w.optional) {
        if !run.spec.workspaces.iter().any(|b| b.name == declared.name) {
            problems.push(format!(
                "workspace {:?} is not bound: add it to the PipelineRun's spec.workspaces, e.g. {{name: {}, volumeClaimTemplate: ...}}",
                declared.name, declared.name
            ));
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems),
    }
}

/// When the last of `children` ended (seconds since the epoch; `now` for
/// one that does not say); None while one of them has not.
fn ended_at<'a>(children: impl Iterator<Item = &'a TaskRun>, now: &Time) -> Option<i64> {
    let mut last = i64::MIN;
    for child in children {
        let status = child.status.as_ref();
        let end = status.and_then(|s| s.completion_time.as_ref()).map(|t| t.0.as_second());
        match (child.phase().is_terminal(), end) {
            (true, Some(end)) => last = last.max(end),
            (true, None) => last = last.max(now.0.as_second()),
            (false, _) => return None,
        }
    }
    Some(last)
}

/// The run's deadlines, as seconds since the epoch.
struct Deadlines {
    pipeline: i64,
    tasks: i64,
    /// The finally tasks': counted from when the first of them started
    /// (None until then), within the pipeline's.
    finally: Option<i64>,
    /// `timeouts.finally`, in seconds.
    finally_secs: Option<i64>,
}

impl Deadlines {
    fn of(run: &PipelineRun, spec: &PipelineSpec, children: &BTreeMap<String, TaskRun>, now: &Time) -> Deadlines {
        let created = run
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(now.0.as_second(), |t| t.0.as_second());
        let timeouts = run.spec.timeouts.clone().unwrap_or_default();
        let secs = |d: Option<&String>, default: Duration| -> i64 {
            let d = d
                .and_then(|d| parse_duration(d).ok())
                .unwrap_or(default)
                .min(MAX_TIMEOUT);
            d.as_secs_f64().ceil() as i64
        };
        let default = parse_duration(DEFAULT_TIMEOUT).unwrap_or(Duration::from_secs(3600));
        let pipeline = created.saturating_add(secs(timeouts.pipeline.as_ref(), default));
        let finally_secs = timeouts.finally.as_ref().map(|f| secs(Some(f), default));
        // As in Tekton: without `tasks`, the tasks get what `finally`
        // leaves of `pipeline`, so the finally tasks keep their time.
        let tasks = match (&timeouts.tasks, finally_secs) {
            (Some(_), _) => created
                .saturating_add(secs(timeouts.tasks.as_ref(), default))
                .min(pipeline),
            (None, Some(finally)) => pipeline.saturating_sub(finally).max(created),
            (None, None) => pipeline,
        };
        // The finally tasks' time counts from when they could start (the
        // record), or from the first of them to start.
        let recorded = run
            .status
            .as_ref()
            .and_then(|s| s.finally_start_time.as_ref())
            .map(|t| t.0.as_second());
        let first_started = children
            .values()
            .filter(|c| is_finally(spec, c))
            .filter_map(|c| c.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()))
            .min();
        let finally = recorded
            .or(first_started)
            .map(|start| finally_secs.map_or(pipeline, |s| start.saturating_add(s).min(pipeline)));
        Deadlines {
            pipeline,
            tasks,
            finally,
            finally_secs,
        }
    }

    fn tasks_over(&self, now: &Time) -> bool {
        now.0.as_second() >= self.tasks
    }

    fn pipeline_over(&self, now: &Time) -> bool {
        now.0.as_second() >= self.pipeline
    }

    /// The timeout of a TaskRun that starts now: the task's own, within
    /// what is left.
    fn for_task(&self, task: &PipelineTask, finally: bool, now: &Time) -> Duration {
        let starting_now = self.finally_secs.map_or(self.pipeline, |s| {
            now.0.as_second().saturating_add(s).min(self.pipeline)
        });
        let until = match finally {
            true => self.finally.unwrap_or(starting_now),
            false => self.tasks,
        };
        let left = Duration::from_secs(until.saturating_sub(now.0.as_second()).max(1) as u64);
        let own = task.timeout.as_deref().and_then(|t| parse_duration(t).ok());
        own.map_or(left, |own| own.min(left))
    }

    /// The next deadline still ahead.
    fn next(&self, now: &Time) -> Option<Duration> {
        let now = now.0.as_second();
        [Some(self.tasks), self.finally, Some(self.pipeline)]
            .into_iter()
            .flatten()
            .filter(|d| *d > now)
            .min()
            .map(|d| Duration::from_secs((d - now) as u64))
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
    let condition = match phase {
        Phase::Succeeded => "True",
        Phase::Failed => "False",
        Phase::Pending | Phase::Running => "Unknown",
    };
    let transition = match status.conditions.iter().find(|c| c.type_ == CONDITION_SUCCEEDED) {
        Some(old) if old.status == condition => old.last_transition_time.clone(),
        _ => now.clone(),
    };
    status.conditions.retain(|c| c.type_ != CONDITION_SUCCEEDED);
    status.conditions.push(Condition {
        type_: CONDITION_SUCCEEDED.into(),
        status: condition.into(),
        reason: reason.to_string(),
        message: message.clone(),
        last_transition_time: transition,
        observed_generation: None,
    });
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
