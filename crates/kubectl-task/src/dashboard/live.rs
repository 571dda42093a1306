//! Live pages: server-sent events that say "this page changed" (the page
//! then fetches its live part again), from one watch per open page, and a
//! running step's log lines as they come. Nothing here polls the API
//! server.

use std::time::Duration;

use futures::{Stream, StreamExt};
use hyper::body::Bytes;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use minitask_api::{LABEL_PIPELINERUN, PipelineRun, TaskRun};
use tokio::sync::watch;

use super::index::RunKind;
use super::route::{Route, parse};
use super::views::State;

/// At most one "changed" per this much time: a burst of updates is one
/// reload of the page's live part.
const SETTLE: Duration = Duration::from_millis(250);
/// A comment this often keeps proxies and the browser from closing the
/// stream.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// Follows `events` (any change of what a page shows) in a task of its
/// own, as a version number; the task ends when the page goes away.
fn versions<S, T>(events: S) -> watch::Receiver<u64>
where
    S: Stream<Item = T> + Send + 'static,
{
    let (tx, rx) = watch::channel(0u64);
    tokio::spawn(async move {
        let mut events = std::pin::pin!(events);
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                event = events.next() => match event {
                    Some(_) => tx.send_modify(|v| *v += 1),
                    None => return,
                },
            }
        }
    });
    rx
}

/// Whether a watch event is a change (not the list the page already has,
/// nor an error the watcher retries).
fn touched<K>(event: &Result<watcher::Event<K>, watcher::Error>) -> bool {
    !matches!(event, Ok(watcher::Event::Init | watcher::Event::InitApply(_)) | Err(_))
}

/// Changes of the objects one named run's page shows: the run, and a
/// PipelineRun's TaskRuns. The end of the first list counts as a change:
/// what changed between the page's read and this watch is not missed.
fn run_changes(state: &State, ns: &str, kind: RunKind, name: &str) -> watch::Receiver<u64> {
    let client = state.cluster.client.clone();
    let by_name = watcher::Config::default().fields(&format!("metadata.name={name}"));
    match kind {
        RunKind::TaskRun => {
            let api: Api<TaskRun> = Api::namespaced(client, ns);
            versions(
                watcher(api, by_name)
                    .default_backoff()
                    .filter(|e| std::future::ready(touched(e))),
            )
        }
        RunKind::PipelineRun => {
            let api: Api<PipelineRun> = Api::namespaced(client.clone(), ns);
            let children: Api<TaskRun> = Api::namespaced(client, ns);
            let own = watcher(api, by_name)
                .default_backoff()
                .filter(|e| std::future::ready(touched(e)))
                .map(|_| ());
            let kids = watcher(
                children,
                watcher::Config::default().labels(&format!("{LABEL_PIPELINERUN}={name}")),
            )
            .default_backoff()
            .filter(|e| std::future::ready(touched(e)))
            .map(|_| ());
            versions(futures::stream::select(own, kids))
        }
    }
}

/// `rx`, as seen by a page rendered from version `since`: changed already
/// if the index has moved on since.
fn from_version(mut rx: watch::Receiver<u64>, since: Option<u64>) -> watch::Receiver<u64> {
    match since {
        Some(v) if v != *rx.borrow() => rx.mark_changed(),
        _ => rx.mark_unchanged(),
    }
    rx
}

/// `/events?view=PATH&since=V`: "changed" whenever the page at PATH would
/// show something else; at once if the index moved past V, the version
/// the page was rendered from.
pub fn changes(state: &State, view: &str, since: Option<u64>) -> impl Stream<Item = Bytes> + Send + use<> {
    let path = view.split('?').next().unwrap_or_default();
    let rx = match parse(path) {
        Route::Run { ns, kind, name } => run_changes(state, &ns, kind, &name),
        _ => from_version(state.index.changes(), since),
    };
    let opening = futures::stream::once(async { Bytes::from_static(b"retry: 2000\n\n") });
    let updates = futures::stream::unfold(rx, |mut rx| async move {
        match tokio::time::timeout(KEEPALIVE, rx.changed()).await {
            Err(_) => Some((Bytes::from_static(b": keepalive\n\n"), rx)),
            Ok(Err(_)) => None,
            Ok(Ok(())) => {
                tokio::time::sleep(SETTLE).await;
                rx.mark_unchanged();
                Some((Bytes::from_static(b"data: changed\n\n"), rx))
            }
        }
    });
    opening.chain(updates)
}

/// A followed log as events: the lines that came together in one event
/// (one `data:` per line), and `end` when the step's output ends (so the
/// browser does not reconnect and read it all again).
pub fn log_events(lines: impl Stream<Item = String> + Send + 'static) -> impl Stream<Item = Bytes> + Send {
    let batches = lines.ready_chunks(500).map(|lines| {
        let mut event = String::new();
        for line in lines {
            event.push_str("data: ");
            // A carriage return would end the field early.
            event.push_str(&line.replace('\r', ""));
            event.push('\n');
        }
        event.push('\n');
        Bytes::from(event)
    });
    batches.chain(futures::stream::once(async {
        Bytes::from_static(b"event: end\ndata: \n\n")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_between_the_pages_read_and_its_listening_is_said() {
        let (tx, rx) = watch::channel(0u64);
        tx.send_modify(|v| *v = 3);
        assert!(from_version(rx.clone(), Some(2)).has_changed().unwrap());
        assert!(!from_version(rx.clone(), Some(3)).has_changed().unwrap());
        assert!(!from_version(rx, None).has_changed().unwrap());
    }

    #[tokio::test]
    async fn log_lines_become_events_and_the_end_is_said() {
        let lines = futures::stream::iter(vec!["one".to_string(), "two\r".to_string()]);
        let events: Vec<Bytes> = log_events(lines).collect().await;
        let text: String = events.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
        assert_eq!(text, "data: one\ndata: two\n\nevent: end\ndata: \n\n");
    }
}
