//! The order of a Pipeline's tasks: each runs after the tasks its
//! `runAfter` names and those whose results it uses. Built in time linear
//! in tasks + edges (Kahn's algorithm), naming a cycle when there is one.

use std::collections::HashMap;

use minitask_api::PipelineSpec;

use crate::pipeline::refs::result_sources;

/// The tasks (not finally) as a graph, by their index in `spec.tasks`.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Every task, each after the tasks it depends on.
    pub order: Vec<usize>,
    /// For each task, the tasks it runs after.
    pub parents: Vec<Vec<usize>>,
}

/// The graph of `spec`'s tasks, or every problem with it.
pub fn graph(spec: &PipelineSpec) -> Result<Graph, Vec<String>> {
    let index: HashMap<&str, usize> = spec
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let finally: Vec<&str> = spec.finally.iter().map(|t| t.name.as_str()).collect();
    let mut problems = Vec::new();
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); spec.tasks.len()];
    for (i, task) in spec.tasks.iter().enumerate() {
        let after = task.run_after.iter().map(|n| (n.as_str(), "runAfter"));
        let uses = result_sources(task).into_iter().map(|(n, _)| (n, "results"));
        for (name, how) in after.chain(uses) {
            match index.get(name) {
                Some(&parent) if !parents[i].contains(&parent) => parents[i].push(parent),
                Some(_) => {}
                None if finally.contains(&name) => problems.push(format!(
                    "task {:?} uses finally task {name:?} ({how}): finally tasks run last, so tasks cannot wait for them",
                    task.name
                )),
                None => problems.push(format!(
                    "task {:?} refers to task {name:?} ({how}), which the Pipeline does not have",
                    task.name
                )),
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spec.tasks.len()];
    for (child, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(child);
        }
    }
    let mut order: Vec<usize> = (0..spec.tasks.len()).filter(|&i| waiting[i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let done = order[next];
        next += 1;
        for &child in &children[done] {
            waiting[child] -= 1;
            if waiting[child] == 0 {
                order.push(child);
            }
        }
    }
    if order.len() < spec.tasks.len() {
        let cycle = find_cycle(&parents, &waiting);
        let names: Vec<&str> = cycle.iter().map(|&i| spec.tasks[i].name.as_str()).collect();
        return Err(vec![format!(
            "tasks {} form a cycle: each waits for the one before it; remove one of these runAfter or result references",
            names.join(" → ")
        )]);
    }
    Ok(Graph { order, parents })
}

/// A cycle among the tasks Kahn's algorithm could not order (those still
/// `waiting`): walk up parents that also wait until one repeats.
fn find_cycle(parents: &[Vec<usize>], waiting: &[usize]) -> Vec<usize> {
    let Some(start) = (0..waiting.len()).find(|&i| waiting[i] > 0) else {
        return Vec::new();
    };
    let mut seen_at = vec![usize::MAX; waiting.len()];
    let mut path = Vec::new();
    let mut at = start;
    while seen_at[at] == usize::MAX {
        seen_at[at] = path.len();
        path.push(at);
        match parents[at].iter().find(|&&p| waiting[p] > 0) {
            Some(&p) => at = p,
            None => return path,
        }
    }
    // `at` repeats: the cycle runs from its first visit; list it in the
    // order tasks run (parent before child), ending where it began.
    let mut cycle: Vec<usize> = path[seen_at[at]..].to_vec();
    cycle.reverse();
    cycle.push(cycle[0]);
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(tasks: serde_json::Value) -> PipelineSpec {
        serde_json::from_value(json!({"tasks": tasks})).unwrap()
    }

    fn task(name: &str, after: &[&str]) -> serde_json::Value {
        json!({"name": name, "taskRef": {"name": "t"}, "runAfter": after})
    }

    fn names(spec: &PipelineSpec, order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| spec.tasks[i].name.clone()).collect()
    }

    #[test]
    fn tasks_come_after_what_they_run_after_and_the_results_they_use() {
        let s = spec(json!([
            task("build", &["lint", "test"]),
            task("lint", &["fetch"]),
            {"name": "test", "taskRef": {"name": "t"}, "params": [{"name": "c", "value": "$(tasks.fetch.results.commit)"}]},
            task("fetch", &[]),
        ]));
        let g = graph(&s).unwrap();
        assert_eq!(names(&s, &g.order), ["fetch", "lint", "test", "build"]);
        assert_eq!(g.parents[2], [3], "test uses fetch's result");
        assert_eq!(g.parents[0], [1, 2]);
    }

    #[test]
    fn a_cycle_is_named() {
        let s = spec(json!([
            task("a", &["c"]),
            task("b", &["a"]),
            task("c", &["b"]),
            task("d", &[])
        ]));
        let problems = graph(&s).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("tasks a → b → c → a form a cycle")
                || problems[0].starts_with("tasks c → a → b → c form a cycle")
                || problems[0].starts_with("tasks b → c → a → b form a cycle"),
            "{}",
            problems[0]
        );
        let s = spec(json!([
            {"name": "a", "taskRef": {"name": "t"}, "params": [{"name": "x", "value": "$(tasks.b.results.r)"}]},
            {"name": "b", "taskRef": {"name": "t"}, "params": [{"name": "x", "value": "$(tasks.a.results.r)"}]},
        ]));
        assert!(graph(&s).unwrap_err()[0].contains("form a cycle"));
    }

    #[test]
    fn unknown_tasks_and_finally_tasks_are_refused() {
        let s: PipelineSpec = serde_json::from_value(json!({
            "tasks": [task("a", &["nope"]), {"name": "b", "taskRef": {"name": "t"}, "params": [{"name": "x", "value": "$(tasks.clean.results.r)"}]}],
            "finally": [task("clean", &[])],
        }))
        .unwrap();
        assert_eq!(
            graph(&s).unwrap_err(),
            [
                "task \"a\" refers to task \"nope\" (runAfter), which the Pipeline does not have",
                "task \"b\" uses finally task \"clean\" (results): finally tasks run last, so tasks cannot wait for them",
            ]
        );
    }

    #[test]
    fn a_long_chain_is_ordered_in_linear_time() {
        let tasks: Vec<serde_json::Value> = (0..100)
            .map(|i| match i {
                0 => task("t0", &[]),
                _ => json!({"name": format!("t{i}"), "taskRef": {"name": "t"}, "runAfter": [format!("t{}", i - 1)]}),
            })
            .rev()
            .collect();
        let s = spec(json!(tasks));
        let g = graph(&s).unwrap();
        assert_eq!(names(&s, &g.order)[..3], ["t0", "t1", "t2"]);
    }
}
