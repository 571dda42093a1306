//! How the watches ride out an API server that goes away and comes back.
//!
//! Each watch backs off on its own, briefly: 100 ms doubling to at most
//! 1 s, so it is back within a second of the API server (measured with
//! `cargo xtask chaos --only "kube-apiserver restart" --repeat 10`; see the
//! README's Reliability section). A failing watch costs one request per
//! second, which no API server notices; client-go's 30 s ceiling is meant
//! for the thousands of kubelets of a cluster, not for one controller.
//!
//! The Controllers themselves must not back off: kube-runtime pauses the
//! merged stream of all their triggers after an error from any one of
//! them, with its own exponential backoff up to 30 s plus as much jitter.
//! After an API server restart every watch errs several times (the broken
//! stream, then the 410 that makes it list again), and that pause stalled
//! every run for up to two minutes.

use std::fmt::Debug;
use std::hash::Hash;
use std::time::{Duration, Instant};

use futures::Stream;
use kube::Resource;
use kube::runtime::reflector::Store;
use kube::runtime::utils::Backoff;
use kube::runtime::{Controller, controller, watcher};
use serde::de::DeserializeOwned;
use tracing::{info, warn};

/// A Controller as each of ours is built: at most `workers` reconciles at
/// once, and no pause of its triggers (each watch backs off on its own).
pub fn controller<K>(
    events: impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    store: Store<K>,
    workers: u16,
) -> Controller<K>
where
    K: Clone + Resource + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    Controller::for_stream(events, store)
        .with_config(controller::Config::default().concurrency(workers.max(1)))
        .trigger_backoff(NoPause)
}

/// The first pause after an error.
const FIRST: Duration = Duration::from_millis(100);
/// The longest pause between two tries of one watch.
pub const LONGEST: Duration = Duration::from_secs(1);

/// A watch's backoff: each pause drawn from the upper half of a delay
/// that doubles from `FIRST` to `LONGEST`, so that replicas do not retry
/// in step. It starts again from `FIRST` after any event.
pub struct WatchBackoff {
    delay: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff { delay: FIRST }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.delay;
        self.delay = (delay * 2).min(LONGEST);
        Some(delay / 2 + delay.mul_f64(fastrand::f64() / 2.0))
    }
}

impl Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.delay = FIRST;
    }
}

/// No pause at all: for the Controllers' merged triggers, whose watches
/// each back off on their own (see the module's comment).
pub struct NoPause;

impl Iterator for NoPause {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl Backoff for NoPause {
    fn reset(&mut self) {}
}

/// How often a watch that keeps failing says so again.
const REPEAT: Duration = Duration::from_secs(30);

/// Logs a watch's failures for people: the first error at once, then one
/// line per `REPEAT` while it lasts, and one line when it is over. A 410
/// (the watch fell behind and lists again) is routine and logged as such.
pub fn log_errors<K>(watch: &'static str) -> impl FnMut(&Result<watcher::Event<K>, watcher::Error>) {
    let mut failing: Option<(Instant, Instant, u32)> = None;
    move |item| match (item, &mut failing) {
        (Err(watcher::Error::WatchError(status)), None) if status.code == 410 => {
            info!(watch, "the watch fell behind the API server; listing again");
        }
        (Err(error), None) => {
            warn!(watch, %error, "the watch failed; trying again every second at most");
            let now = Instant::now();
            failing = Some((now, now, 1));
        }
        (Err(error), Some((since, said, errors))) => {
            *errors += 1;
            if said.elapsed() >= REPEAT {
                warn!(watch, %error, errors = *errors, failing_for = ?since.elapsed(), "the watch still fails; check that the API server is reachable");
                *said = Instant::now();
            }
        }
        (Ok(_), Some((since, _, errors))) => {
            info!(watch, errors = *errors, after = ?since.elapsed(), "the watch is back");
            failing = None;
        }
        (Ok(_), None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_backs_off_briefly_and_starts_again_after_an_event() {
        let mut backoff = WatchBackoff::default();
        let pauses: Vec<Duration> = backoff.by_ref().take(10).collect();
        for (pause, ceiling) in pauses
            .iter()
            .zip([100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000])
        {
            let ceiling = Duration::from_millis(ceiling);
            assert!(
                *pause >= ceiling / 2 && *pause <= ceiling,
                "{pause:?} not within {ceiling:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next().unwrap() <= FIRST, "reset starts from the first pause");
    }

    #[test]
    fn the_controllers_never_pause() {
        assert!(NoPause.take(100).all(|d| d.is_zero()));
    }

    /// After an API server restart every watch errs several times in a row;
    /// the run waiting behind those errors must be reconciled at once, not
    /// after kube-runtime's own backoff (0.8 s doubling to 30 s: at least
    /// 24.8 s of pauses for the six errors here, on the paused clock).
    #[tokio::test(start_paused = true)]
    async fn watch_errors_do_not_delay_the_runs_behind_them() {
        use futures::StreamExt;
        use k8s_openapi::api::core::v1::ConfigMap;
        use std::sync::Arc;

        let (store, mut writer) = kube::runtime::reflector::store::<ConfigMap>();
        let mut object = ConfigMap::default();
        object.metadata.name = Some("run".into());
        object.metadata.namespace = Some("ns".into());
        writer.apply_watcher_event(&watcher::Event::InitDone);
        writer.apply_watcher_event(&watcher::Event::Apply(object.clone()));
        let failure = || Err(watcher::Error::NoResourceVersion);
        let events =
            futures::stream::iter((0..6).map(move |_| failure()).chain([Ok(object)])).chain(futures::stream::pending());
        let started = tokio::time::Instant::now();
        let (reconciled, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let running = controller(events, store, 1).run(
            move |_, _: Arc<()>| {
                let _ = reconciled.send(tokio::time::Instant::now());
                async { Ok::<_, kube::Error>(kube::runtime::controller::Action::await_change()) }
            },
            |_, _, _| kube::runtime::controller::Action::await_change(),
            Arc::new(()),
        );
        tokio::spawn(running.for_each(|_| async {}));
        let at = seen.recv().await.expect("the run is reconciled");
        assert!(
            at - started < Duration::from_secs(1),
            "the run waited {:?} behind the watch errors",
            at - started
        );
    }
}
