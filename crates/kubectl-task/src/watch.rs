//! Waiting on the API server with watches (one object, by name) rather
//! than polling it.

use std::fmt::Debug;

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;

/// What a watch of one object saw.
#[derive(Debug)]
pub enum Seen<T> {
    /// The check said yes.
    Value(T),
    /// The object was there and is gone.
    Deleted,
    /// The object was never there.
    Missing,
}

/// Versions of the object `name`, as a watch delivers them: `Some(object)`
/// for each version, `None` once it is deleted (or when it does not exist).
pub fn versions<K>(api: Api<K>, name: &str) -> impl Stream<Item = anyhow::Result<Option<K>>> + Send + use<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let name = name.to_string();
    let mut listed = false;
    watcher(api, config).filter_map(move |event| {
        let item = match event {
            Ok(watcher::Event::Init) => {
                listed = false;
                None
            }
            Ok(watcher::Event::InitApply(object)) => {
                listed = true;
                Some(Ok(Some(object)))
            }
            Ok(watcher::Event::Apply(object)) => Some(Ok(Some(object))),
            Ok(watcher::Event::Delete(_)) => Some(Ok(None)),
            // A list without the object: it is not there.
            Ok(watcher::Event::InitDone) => (!listed).then_some(Ok(None)),
            Err(e) => Some(Err(anyhow::anyhow!(
                "watching {name}: {}",
                crate::errors::root_cause(&e)
            ))),
        };
        std::future::ready(item)
    })
}

/// Watches `name` until `check` says yes, it is deleted, or it turns out
/// never to have existed.
pub async fn until<K, T>(api: Api<K>, name: &str, mut check: impl FnMut(&K) -> Option<T>) -> anyhow::Result<Seen<T>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut existed = false;
    let mut stream = std::pin::pin!(versions(api, name));
    while let Some(version) = stream.next().await {
        match version? {
            Some(object) => {
                existed = true;
                if let Some(value) = check(&object) {
                    return Ok(Seen::Value(value));
                }
            }
            None if existed => return Ok(Seen::Deleted),
            None => return Ok(Seen::Missing),
        }
    }
    anyhow::bail!("the watch of {name} ended")
}
