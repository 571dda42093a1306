//! A PipelineRun's tasks as a picture: each task in the layer after the
//! last task it waits for (runAfter, or results it uses), `finally` apart
//! in a column of its own, drawn as SVG. Pure: the layout is a function of
//! the Pipeline and the run's status, linear in tasks and edges.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use maud::{Markup, PreEscaped, html};
use minitask_api::{PipelineRunStatus, PipelineSpec, PipelineTask, TaskState};

use super::pages::state_icon;

pub const NODE_WIDTH: i64 = 190;
pub const NODE_HEIGHT: i64 = 46;
const COLUMN: i64 = NODE_WIDTH + 60;
const ROW: i64 = NODE_HEIGHT + 18;
const MARGIN: i64 = 12;

/// One task on the picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub layer: usize,
    pub row: usize,
    pub finally: bool,
    pub state: TaskState,
    /// Why it is in its state (a skipped task's reason), for the tooltip.
    pub why: String,
    /// Its TaskRuns: more than one for a matrix.
    pub task_runs: Vec<String>,
    /// Of a matrix's TaskRuns: how many succeeded and failed.
    pub matrix: Option<(usize, usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub nodes: Vec<Node>,
    /// (from, to) as indexes into `nodes`.
    pub edges: Vec<(usize, usize)>,
    pub layers: usize,
    pub rows: usize,
}

/// The tasks `task` waits for: its runAfter and the tasks whose results it
/// reads (in params or `when`), among `known`.
pub fn waits_for(task: &PipelineTask, known: &HashSet<&str>) -> Vec<String> {
    let mut names: Vec<String> = task
        .run_after
        .iter()
        .filter(|n| known.contains(n.as_str()))
        .cloned()
        .collect();
    let text = serde_json::to_string(&(&task.params, &task.when, &task.matrix)).unwrap_or_default();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("$(tasks.") {
        let after = &rest[start + 8..];
        let name: String = after.chars().take_while(|c| *c != '.' && *c != ')').collect();
        rest = &after[name.len()..];
        if known.contains(name.as_str()) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Lays out the tasks of `spec` with their states from `status`.
pub fn layout(spec: &PipelineSpec, status: Option<&PipelineRunStatus>) -> Layout {
    let known: HashSet<&str> = spec.tasks.iter().map(|t| t.name.as_str()).collect();
    let index: HashMap<&str, usize> = spec
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let deps: Vec<Vec<usize>> = spec
        .tasks
        .iter()
        .map(|t| {
            waits_for(t, &known)
                .iter()
                .filter_map(|n| index.get(n.as_str()).copied())
                .collect()
        })
        .collect();
    // Longest path from a root; a cycle (the controller refuses those, but
    // the object is input) is cut where it closes.
    let mut layer: Vec<Option<usize>> = vec![None; deps.len()];
    for start in 0..deps.len() {
        let mut stack = vec![(start, 0usize)];
        let mut on_path = HashSet::new();
        while let Some((node, next)) = stack.pop() {
            if layer[node].is_some() {
                continue;
            }
            on_path.insert(node);
            match deps[node].get(next) {
                Some(&dep) if layer[dep].is_none() && !on_path.contains(&dep) => {
                    stack.push((node, next + 1));
                    stack.push((dep, 0));
                }
                Some(_) => stack.push((node, next + 1)),
                None => {
                    let deepest = deps[node].iter().filter_map(|d| layer[*d]).max();
                    layer[node] = Some(deepest.map_or(0, |l| l + 1));
                    on_path.remove(&node);
                }
            }
        }
    }
    let states: HashMap<&str, &minitask_api::PipelineTaskStatus> = status
        .map(|s| s.tasks.iter().map(|t| (t.name.as_str(), t)).collect())
        .unwrap_or_default();
    let layers = layer.iter().flatten().max().map_or(0, |l| l + 1);
    let mut rows_used = vec![0usize; layers + 1];
    let mut nodes = Vec::new();
    let node_of = |task: &PipelineTask, layer: usize, finally: bool, rows_used: &mut Vec<usize>| {
        let row = rows_used[layer];
        rows_used[layer] += 1;
        let seen = states.get(task.name.as_str());
        let task_runs = seen.map(|s| s.task_runs.clone()).unwrap_or_default();
        Node {
            name: task.name.clone(),
            layer,
            row,
            finally,
            state: seen.map(|s| s.state).unwrap_or_default(),
            why: seen
                .map(|s| {
                    [s.reason.as_deref(), s.message.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ")
                })
                .unwrap_or_default(),
            matrix: None,
            task_runs,
        }
    };
    for (i, task) in spec.tasks.iter().enumerate() {
        nodes.push(node_of(task, layer[i].unwrap_or(0), false, &mut rows_used));
    }
    for task in &spec.finally {
        nodes.push(node_of(task, layers, true, &mut rows_used));
    }
    let edges = deps
        .iter()
        .enumerate()
        .flat_map(|(to, from)| from.iter().map(move |f| (*f, to)))
        .collect();
    let rows = rows_used.iter().copied().max().unwrap_or(0);
    Layout {
        nodes,
        edges,
        layers: layers + usize::from(!spec.finally.is_empty()),
        rows,
    }
}

/// Counts a matrix's TaskRuns by outcome: (succeeded, failed, all), from
/// the phases the caller knows.
pub fn with_matrix_counts(mut layout: Layout, phase_of: impl Fn(&str) -> Option<minitask_api::Phase>) -> Layout {
    for node in &mut layout.nodes {
        if node.task_runs.len() > 1 {
            let phases: Vec<_> = node.task_runs.iter().map(|n| phase_of(n)).collect();
            let ok = phases
                .iter()
                .filter(|p| **p == Some(minitask_api::Phase::Succeeded))
                .count();
            let failed = phases
                .iter()
                .filter(|p| **p == Some(minitask_api::Phase::Failed))
                .count();
            node.matrix = Some((ok, failed, node.task_runs.len()));
        }
    }
    layout
}

fn x(layer: usize, finally_gap: bool) -> i64 {
    MARGIN + layer as i64 * COLUMN + if finally_gap { 30 } else { 0 }
}

fn y(row: usize) -> i64 {
    MARGIN + 22 + row as i64 * ROW
}

/// The picture; `href` gives a node's link (its TaskRun's page).
pub fn svg(layout: &Layout, href: impl Fn(&Node) -> Option<String>) -> Markup {
    let width = x(layout.layers.max(1), true) + MARGIN;
    let height = y(layout.rows.max(1)) + MARGIN;
    let mut edges = String::new();
    for (from, to) in &layout.edges {
        let (a, b) = (&layout.nodes[*from], &layout.nodes[*to]);
        let (x1, y1) = (x(a.layer, a.finally) + NODE_WIDTH, y(a.row) + NODE_HEIGHT / 2);
        let (x2, y2) = (x(b.layer, b.finally), y(b.row) + NODE_HEIGHT / 2);
        let mid = (x1 + x2) / 2;
        let _ = write!(
            edges,
            r#"<path class="edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"/>"#
        );
    }
    let finally_x = layout.nodes.iter().find(|n| n.finally).map(|n| x(n.layer, true) - 14);
    html! {
        svg.graph xmlns="http://www.w3.org/2000/svg" role="img" aria-label="the pipeline's tasks"
            width=(width) height=(height) viewBox={"0 0 " (width) " " (height)} {
            @if let Some(fx) = finally_x {
                line.finally-rule x1=(fx) y1="4" x2=(fx) y2=(height - 4) {}
                text.label x=(fx + 14) y=(MARGIN + 10) { "finally" }
            }
            (PreEscaped(edges))
            @for node in &layout.nodes {
                @let (nx, ny) = (x(node.layer, node.finally), y(node.row));
                @let state = node.state.as_str();
                @let label = match node.matrix {
                    Some((ok, failed, all)) => format!("{} {state} · ×{all}: {ok}✓ {failed}✗", state_icon(state)),
                    None => format!("{} {state}", state_icon(state)),
                };
                @let title = match node.why.is_empty() { true => format!("{}: {state}", node.name), false => format!("{}: {state} ({})", node.name, node.why) };
                @let body = html! {
                    title { (title) }
                    rect.node.(state.to_ascii_lowercase()) x=(nx) y=(ny) width=(NODE_WIDTH) height=(NODE_HEIGHT) rx="6" {}
                    text.name x=(nx + 10) y=(ny + 19) { (short(&node.name, 24)) }
                    text.state x=(nx + 10) y=(ny + 36) { (label) }
                };
                g.task data-task=(node.name) data-state=(state) {
                    @match href(node) {
                        Some(link) => a href=(link) { (body) },
                        None => (body),
                    }
                }
            }
        }
    }
}

/// `text`, cut to `max` characters with an ellipsis.
fn short(text: &str, max: usize) -> String {
    match text.chars().count() > max {
        true => format!("{}…", text.chars().take(max - 1).collect::<String>()),
        false => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> PipelineSpec {
        serde_json::from_value(value).unwrap()
    }

    fn placed(layout: &Layout) -> Vec<(String, usize, usize)> {
        layout.nodes.iter().map(|n| (n.name.clone(), n.layer, n.row)).collect()
    }

    #[test]
    fn each_task_is_one_layer_after_the_last_it_waits_for_and_finally_is_last() {
        let spec = spec(json!({
            "tasks": [
                {"name": "fetch", "taskRef": {"name": "t"}},
                {"name": "test", "taskRef": {"name": "t"}, "runAfter": ["fetch"]},
                {"name": "build", "taskRef": {"name": "t"}, "runAfter": ["fetch", "no-such-task"]},
                {"name": "ship", "taskRef": {"name": "t"}, "when": [{"input": "$(tasks.build.results.ok)", "operator": "in", "values": ["yes"]}]},
                {"name": "alone", "taskRef": {"name": "t"}},
            ],
            "finally": [{"name": "report", "taskRef": {"name": "t"}}],
        }));
        let layout = layout(&spec, None);
        assert_eq!(
            placed(&layout),
            [
                ("fetch".into(), 0, 0),
                ("test".into(), 1, 0),
                ("build".into(), 1, 1),
                ("ship".into(), 2, 0),
                ("alone".into(), 0, 1),
                ("report".into(), 3, 0),
            ]
        );
        assert!(layout.nodes[5].finally);
        assert_eq!(layout.edges, [(0, 1), (0, 2), (2, 3)]);
        assert_eq!((layout.layers, layout.rows), (4, 2));
    }

    #[test]
    fn a_cycle_in_the_input_is_cut_and_a_long_chain_does_not_recurse() {
        let cycle = spec(json!({"tasks": [
            {"name": "a", "taskRef": {"name": "t"}, "runAfter": ["b"]},
            {"name": "b", "taskRef": {"name": "t"}, "runAfter": ["a"]},
        ]}));
        let layout = layout(&cycle, None);
        assert_eq!(layout.nodes.len(), 2);
        // 5,000 tasks in a row: an iterative walk, one layer each.
        let tasks: Vec<serde_json::Value> = (0..5000)
            .map(|i| match i {
                0 => json!({"name": "t0", "taskRef": {"name": "t"}}),
                _ => json!({"name": format!("t{i}"), "taskRef": {"name": "t"}, "runAfter": [format!("t{}", i - 1)]}),
            })
            .collect();
        let chain = layout_of(json!({"tasks": tasks}));
        assert_eq!(chain.layers, 5000);
        assert_eq!(chain.nodes[4999].layer, 4999);
    }

    fn layout_of(value: serde_json::Value) -> Layout {
        layout(&spec(value), None)
    }

    #[test]
    fn states_reasons_and_matrix_counts_come_from_the_run() {
        let spec = spec(
            json!({"tasks": [{"name": "unit", "taskRef": {"name": "t"}}, {"name": "lint", "taskRef": {"name": "t"}}]}),
        );
        let status: PipelineRunStatus = serde_json::from_value(json!({
            "tasks": [
                {"name": "unit", "state": "Failed", "taskRuns": ["r-unit-0", "r-unit-1", "r-unit-2"]},
                {"name": "lint", "state": "Skipped", "reason": "WhenExpressionsFalse", "message": "off"},
            ]
        }))
        .unwrap();
        let phases = |name: &str| match name {
            "r-unit-0" | "r-unit-1" => Some(minitask_api::Phase::Succeeded),
            "r-unit-2" => Some(minitask_api::Phase::Failed),
            _ => None,
        };
        let layout = with_matrix_counts(layout(&spec, Some(&status)), phases);
        assert_eq!(layout.nodes[0].state, TaskState::Failed);
        assert_eq!(layout.nodes[0].matrix, Some((2, 1, 3)));
        assert_eq!(layout.nodes[1].why, "WhenExpressionsFalse: off");
        let svg = svg(&layout, |n| n.task_runs.first().map(|r| format!("/ns/a/taskruns/{r}"))).into_string();
        assert!(svg.contains("×3: 2✓ 1✗"), "{svg}");
        assert!(svg.contains(r#"<a href="/ns/a/taskruns/r-unit-0">"#), "{svg}");
        assert!(svg.contains("↷ Skipped"), "{svg}");
    }
}
