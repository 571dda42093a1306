//! The runs list, from the index, and the archive's list.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use maud::html;
use minitask_api::{PipelineRun, TaskRun};

use super::{Reply, State};
use crate::archive;
use crate::dashboard::index::{Filter, RunKind, Summary, select};
use crate::dashboard::pages::{self, runs::PER_PAGE};
use crate::dashboard::route::fields;

/// `/runs`: newest first, filtered, a page at a time, from the index.
pub async fn runs_page(state: &State, path_and_query: &str, query: &str, fragment: bool) -> Reply {
    let f = fields(query);
    let text = |k: &str| f.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let filter = Filter {
        kind: text("kind").as_deref().and_then(RunKind::parse),
        namespace: text("ns").filter(|_| state.scope.is_none()),
        owner: text("owner"),
        phase: text("phase"),
        labels: Filter::parse_labels(&text("labels").unwrap_or_default()),
    };
    let page: usize = text("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    state.index.listed(Duration::from_secs(10)).await;
    let error = state.index.error();
    let now = Timestamp::now();
    let body = state.index.read(|all| {
        let (rows, total) = select(all.values(), &filter, page, PER_PAGE);
        pages::runs::list(
            &rows,
            total,
            &filter,
            page,
            state.scope.is_none(),
            error.as_deref(),
            now,
        )
    });
    state.page("Runs", path_and_query, fragment, body, None)
}

/// `/archive?ns=&kind=&continue=`: runs read back from the archive.
pub async fn archive_page(state: &State, query: &str) -> Reply {
    let f = fields(query);
    let ns = f
        .get("ns")
        .filter(|n| crate::dashboard::route::is_name(n))
        .cloned()
        .or(state.scope.clone())
        .unwrap_or_else(|| state.cluster.namespace.clone());
    let kind = f
        .get("kind")
        .and_then(|k| RunKind::parse(k))
        .unwrap_or(RunKind::TaskRun);
    let from = f.get("continue").cloned();
    let cluster = state.in_ns(&ns);
    let body = match archive::page(&cluster, kind.plural(), 50, from.as_deref()).await {
        Ok((items, next)) => {
            let rows: Vec<Summary> = items
                .iter()
                .filter_map(|item| match kind {
                    RunKind::TaskRun => serde_json::from_value::<TaskRun>(item.clone())
                        .ok()
                        .map(|r| Summary::of_taskrun(&r)),
                    RunKind::PipelineRun => serde_json::from_value::<PipelineRun>(item.clone())
                        .ok()
                        .map(|r| Summary::of_pipelinerun(&r)),
                })
                .collect();
            pages::runs::archived(&ns, kind, &rows, next.as_deref(), Timestamp::now())
        }
        Err(e) => html! { h1 { "Archive" } p.error role="alert" { (format!("{e:#}")) } },
    };
    Reply::Html(200, pages::page(&state.frame("Archive", None), body))
}
