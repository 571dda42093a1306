//! What the TaskRun and the PipelineRun reconcilers do the same way: the
//! objects this process created that its cache may not show yet, the
//! status write (server-side apply, conditional on the version it was
//! computed from), and a create that meets AlreadyExists and reads back
//! what holds the name, for the caller to adopt only when it is its own.

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::pod::MANAGER;
use crate::runtime::expiring::Expiring;

/// Objects this process created, until the cache shows them (or `ttl`
/// passes): until then a reconcile waits for the watch rather than acting
/// on a cache that lacks them.
pub struct Expected<K: Resource>(Mutex<Expiring<ObjectRef<K>, ()>>)
where
    K::DynamicType: Eq + std::hash::Hash + Clone;

impl<K: Resource> Expected<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    pub fn new(ttl: Duration) -> Self {
        Expected(Mutex::new(Expiring::new(ttl)))
    }

    /// `object` was just created.
    pub fn created(&self, object: ObjectRef<K>) {
        let mut created = self.0.lock().unwrap_or_else(|e| e.into_inner());
        created.insert(object, (), Instant::now());
    }

    /// True while `object`, created here, is not in the cache yet; `seen`
    /// (the cache has it) ends the wait.
    pub fn awaits(&self, object: &ObjectRef<K>, seen: bool) -> bool {
        let mut created = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen {
            created.remove(object);
            return false;
        }
        created.get(object, Instant::now()).is_some()
    }
}

/// Writes `status` as the whole status of `object`, as the controller's
/// field manager. The object's resourceVersion makes the write
/// conditional: a status computed from a cached object older than the
/// stored one is refused (409) and the reconcile runs again on fresh data,
/// so nothing stale overwrites it.
pub async fn apply_status<K>(api: &Api<K>, object: &K, status: &impl Serialize) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"resourceVersion": object.resource_version()},
        "status": status,
    });
    let params = PatchParams::apply(MANAGER).force();
    api.patch_status(&object.name_any(), &params, &Patch::Apply(&patch))
        .await
}

/// What a create came to.
pub enum Made<K> {
    Created(K),
    /// The name was taken: what holds it now (None if it went meanwhile).
    /// Whether it is the caller's to adopt is the caller's to say (by
    /// owner UID, never by name alone).
    Exists(Option<K>),
}

/// Creates `object` as the controller's field manager; on AlreadyExists,
/// reads back what holds the name. Any other error is the caller's to
/// classify (a refusal, or the API server away).
pub async fn create_or_read<K>(api: &Api<K>, object: &K) -> Result<Made<K>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    match api.create(&params, object).await {
        Ok(created) => Ok(Made::Created(created)),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Made::Exists(api.get_opt(&object.name_any()).await?)),
        Err(e) => Err(e),
    }
}

/// The status writes this process made, by object (namespace, name, UID),
/// with the resourceVersion each was computed from: while the cache still
/// shows that version, the watch has not brought the write yet, and a
/// reconcile would compute the same change again only to be refused.
pub struct Written(Mutex<Expiring<(String, String, String), Option<String>>>);

impl Written {
    pub fn new(ttl: Duration) -> Self {
        Written(Mutex::new(Expiring::new(ttl)))
    }

    fn key<K: Resource>(object: &K) -> (String, String, String) {
        (
            object.namespace().unwrap_or_default(),
            object.name_any(),
            object.uid().unwrap_or_default(),
        )
    }

    /// A status write computed from `object`, as the cache had it.
    pub fn wrote<K: Resource>(&self, object: &K) {
        let mut written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let version = object.resource_version();
        written.insert(Self::key(object), version, Instant::now());
    }

    /// True while the cache shows the version of `object` that our last
    /// write replaced.
    pub fn is_stale<K: Resource>(&self, object: &K) -> bool {
        let mut written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = Self::key(object);
        let stale = match written.get(&key, Instant::now()) {
            Some((over, _)) => over.is_some() && *over == object.resource_version(),
            None => return false,
        };
        if !stale {
            written.remove(&key);
        }
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minitask_api::PipelineRun;
    use serde_json::json;

    fn run(version: &str) -> PipelineRun {
        serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": version},
            "spec": {"pipelineRef": {"name": "ci"}},
        }))
        .unwrap()
    }

    #[test]
    fn a_cached_object_older_than_our_write_is_stale_until_the_watch_brings_it() {
        let written = Written::new(Duration::from_secs(30));
        assert!(!written.is_stale(&run("5")), "nothing written");
        written.wrote(&run("5"));
        assert!(
            written.is_stale(&run("5")),
            "the cache still shows what the write replaced"
        );
        assert!(!written.is_stale(&run("6")), "the watch brought the write");
        assert!(!written.is_stale(&run("5")), "and it is forgotten");
    }
}
