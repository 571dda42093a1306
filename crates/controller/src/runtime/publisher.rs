//! Publishes the Events of status changes off the reconcile path: a
//! reconcile hands its Events to a queue and returns; a background task
//! creates them, a few at a time.
//!
//! Why not kube's `Recorder`: it keeps every Event of the last six minutes
//! to count repeats as a series, and scans that cache under a write lock on
//! every publish. Our Events never repeat (one per transition), so that
//! cache is memory and CPU for nothing, growing with the burst: measured
//! with `cargo xtask bench`, see the README's Performance section.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;

use crate::shared::{cut, prefix};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::events::EventType;
use kube::{Client, Resource};
use tokio::sync::mpsc;
use tracing::warn;

use crate::status::events::Announcement;

/// Events waiting to be created; beyond this a reconcile waits for room,
/// so a slow API server slows the controller down rather than losing Events.
const QUEUE: usize = 1024;
/// Events created at once.
const IN_FLIGHT: usize = 8;

/// Who reports the Events: `reportingController` and `reportingInstance`.
#[derive(Clone, Debug)]
pub struct Reporter {
    pub controller: String,
    pub instance: String,
}

/// The sending end; cloning it is cheap. The background task ends once
/// every `Publisher` is dropped and the queue is empty.
#[derive(Clone)]
pub struct Publisher {
    queue: mpsc::Sender<Event>,
    reporter: Reporter,
}

impl Publisher {
    /// A publisher and the task that creates its Events (await it to make
    /// sure the queue is drained at shutdown).
    pub fn start(client: Client, reporter: Reporter) -> (Publisher, tokio::task::JoinHandle<()>) {
        let (queue, received) = mpsc::channel::<Event>(QUEUE);
        let events = futures::stream::unfold(received, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
        let task = tokio::spawn(events.for_each_concurrent(IN_FLIGHT, move |event| {
            let client = client.clone();
            async move { create(client, event).await }
        }));
        (Publisher { queue, reporter }, task)
    }

    /// Queues the Event of `announcement` about `object` (a TaskRun or a
    /// PipelineRun).
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, object: &K, announcement: Announcement) {
        let event = event(&self.reporter, object.object_ref(&()), announcement, Timestamp::now());
        if self.queue.send(event).await.is_err() {
            warn!("the Event publisher has stopped; an Event is lost");
        }
    }
}

async fn create(client: Client, event: Event) {
    let namespace = event.metadata.namespace.clone().unwrap_or_default();
    let reason = event.reason.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client, &namespace);
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        warn!(%e, %reason, regarding = event.regarding.as_ref().and_then(|r| r.name.as_deref()), "publishing an Event");
    }
}

/// The events.k8s.io/v1 Event of `announcement` about `regarding` at `now`,
/// named as client-go names them: the object's name and the time in hex.
pub fn event(reporter: &Reporter, regarding: ObjectReference, announcement: Announcement, now: Timestamp) -> Event {
    let name = regarding.name.clone().unwrap_or_default();
    let time = format!(".{:x}", now.as_nanosecond());
    // The API server refuses names over 253 characters and notes over
    // 1 KiB: the Event would be lost, not shortened.
    let prefix = prefix(&name, MAX_NAME - time.len()).trim_end_matches(['-', '.']);
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{prefix}{time}")),
            namespace: regarding.namespace.clone(),
            ..ObjectMeta::default()
        },
        action: Some("Reconcile".into()),
        reason: Some(announcement.reason.into()),
        // "..." included: at most MAX_NOTE bytes in all.
        note: Some(cut(&announcement.note, MAX_NOTE - 3)),
        type_: Some(
            match announcement.type_ {
                EventType::Normal => "Normal",
                EventType::Warning => "Warning",
            }
            .into(),
        ),
        event_time: Some(MicroTime(now)),
        regarding: Some(regarding),
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(reporter.instance.clone()),
        ..Event::default()
    }
}

/// The longest name the API server takes (a DNS subdomain).
const MAX_NAME: usize = 253;
/// The longest note events.k8s.io/v1 takes, in bytes.
const MAX_NOTE: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_its_run_its_reporter_and_its_time() {
        let reporter = Reporter {
            controller: "minitask-controller".into(),
            instance: "pod-a".into(),
        };
        let regarding = ObjectReference {
            name: Some("hello-1".into()),
            namespace: Some("team".into()),
            kind: Some("TaskRun".into()),
            ..ObjectReference::default()
        };
        let announcement = Announcement {
            type_: EventType::Warning,
            reason: "Failed",
            note: "StepFailed: step \"a\" exited with 1".into(),
        };
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let e = event(&reporter, regarding, announcement, now);
        assert_eq!(e.metadata.name.as_deref(), Some("hello-1.17979cfe362a0000"));
        assert_eq!(e.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(e.reason.as_deref(), Some("Failed"));
        assert_eq!(e.reporting_instance.as_deref(), Some("pod-a"));
        assert_eq!(e.regarding.unwrap().kind.as_deref(), Some("TaskRun"));
        assert_eq!(e.event_time.unwrap().0, now);
    }

    /// A long run name and a long message still make an Event the API
    /// server takes: a name of at most 253 characters that ends its
    /// labels with a letter or digit, and a note of at most 1 KiB.
    #[test]
    fn long_names_and_notes_are_cut_to_what_the_api_server_takes() {
        let reporter = Reporter {
            controller: "minitask-controller".into(),
            instance: "pod-a".into(),
        };
        let name = format!("{}-{}", "a".repeat(235), "b".repeat(17));
        let regarding = ObjectReference {
            name: Some(name),
            namespace: Some("team".into()),
            ..ObjectReference::default()
        };
        let announcement = Announcement {
            type_: EventType::Warning,
            reason: "Failed",
            note: "é".repeat(700),
        };
        let e = event(
            &reporter,
            regarding,
            announcement,
            Timestamp::from_second(1_700_000_000).unwrap(),
        );
        let name = e.metadata.name.unwrap();
        assert!(name.len() <= 253, "{}", name.len());
        assert_eq!(
            name,
            format!("{}.17979cfe362a0000", "a".repeat(235)),
            "no label ends in '-'"
        );
        let note = e.note.unwrap();
        assert!(note.len() <= 1024 && note.ends_with("..."), "{}", note.len());
    }
}
