//! One test's world: an admin client, a fresh namespace and a store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use minitask_api::{PipelineRun, TaskRun};
use minitask_archive::archiver::Archiver;
use minitask_archive::record::Record;
use minitask_archive::{follow, store};
use minitask_testenv::s3::{BUCKET, S3};
use minitask_testenv::{ARCHIVE_USER, ControlPlane, eventually};
use serde_json::json;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct World {
    pub client: Client,
    pub ns: String,
    /// The store's directory (a directory store's world).
    pub dir: PathBuf,
    /// An S3 world's server (SeaweedFS), and how to reach it.
    pub s3: Option<S3>,
}

impl World {
    /// A world with a store of its own.
    pub async fn new(prefix: &str) -> World {
        let cp = ControlPlane::shared();
        let client = cp.client().await;
        let ns = cp.namespace(&client, prefix).await;
        let dir = std::env::temp_dir().join(format!("minitask-archive-{}-{ns}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        World {
            client,
            ns,
            dir,
            s3: None,
        }
    }

    /// A world whose store is a bucket on a real S3 server of its own.
    pub async fn on_s3(prefix: &str) -> World {
        let mut world = World::new(prefix).await;
        world.s3 = Some(S3::start().expect("SeaweedFS starts"));
        world
    }

    pub fn options(&self) -> Vec<(String, String)> {
        self.s3.as_ref().map(S3::options).unwrap_or_default()
    }

    pub fn store(&self) -> store::Store {
        store::open(&self.url(), &self.options()).unwrap()
    }

    /// A world whose store is the one the API serves (one per process;
    /// each world has its own namespace in it).
    pub async fn served(prefix: &str) -> World {
        let mut world = World::new(prefix).await;
        world.dir = shared_dir();
        world
    }

    pub fn url(&self) -> String {
        match &self.s3 {
            Some(_) => format!("s3://{BUCKET}/{}", self.ns),
            None => format!("file://{}", self.dir.display()),
        }
    }

    /// The archive, as its ServiceAccount, following this namespace.
    pub async fn archive(&self) -> tokio::task::JoinHandle<()> {
        self.archive_sharded(follow::Sharding::alone(), "").await
    }

    /// One replica of the archive, archiving the runs `sharding` gives it;
    /// `who` ends the location its conditions name.
    pub async fn archive_sharded(&self, sharding: follow::Sharding, who: &str) -> tokio::task::JoinHandle<()> {
        let client = ControlPlane::shared().client_as(ARCHIVE_USER).await;
        let archiver = Arc::new(Archiver {
            client: client.clone(),
            store: self.store(),
            log_cap: 1024,
            location: format!("{}{who}", self.url()),
        });
        let tasks = Api::<TaskRun>::namespaced(client.clone(), &self.ns);
        let pipelines = Api::<PipelineRun>::namespaced(client, &self.ns);
        tokio::spawn(async move {
            tokio::join!(
                follow::follow(archiver.clone(), tasks, 2, sharding.clone()),
                follow::follow(archiver, pipelines, 2, sharding)
            );
        })
    }

    /// A TaskRun that ended as the controller would have written it.
    pub async fn ended_taskrun(&self, name: &str) -> TaskRun {
        self.ended_taskrun_with(name, "build", "Succeeded", "2026-12-03T01:00:00Z", json!({"team": "a"}))
            .await
    }

    pub async fn ended_taskrun_with(
        &self,
        name: &str,
        task: &str,
        phase: &str,
        ended: &str,
        labels: serde_json::Value,
    ) -> TaskRun {
        let runs: Api<TaskRun> = Api::namespaced(self.client.clone(), &self.ns);
        let run: TaskRun = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": name, "labels": labels},
            "spec": {"taskRef": {"name": task}},
        }))
        .unwrap();
        runs.create(&PostParams::default(), &run).await.unwrap();
        let status = json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "status": {
                "phase": phase, "reason": phase, "message": "",
                "podName": format!("{name}-pod"),
                "completionTime": ended,
                "conditions": [{"type": "Succeeded", "status": if phase == "Succeeded" { "True" } else { "False" },
                                "reason": phase, "message": "", "lastTransitionTime": ended}],
                "steps": [{"name": "compile", "container": "step-compile", "terminated": {"exitCode": 0}},
                          {"name": "publish", "container": "step-publish"}],
            }
        });
        runs.patch_status(
            name,
            &PatchParams::apply("minitask-controller").force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap()
    }

    pub async fn record(&self, key: &str) -> Option<Record> {
        let bytes = store::get(&self.store(), key).await.ok()??;
        serde_json::from_slice(&store::gunzip(&bytes).ok()?).ok()
    }
}

pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The `Archived` condition of run `name` once its status is `status`.
pub async fn archived(runs: &Api<TaskRun>, name: &str, status: &str) -> Condition {
    eventually(&format!("{name} Archived={status}"), WAIT, || async {
        let run = runs.get(name).await.ok()?;
        condition(&run.status?.conditions, "Archived")
            .filter(|c| c.status == status)
            .cloned()
    })
    .await
}

/// Run `name` says that the store cannot take its record, and why.
pub async fn said_unavailable(runs: &Api<TaskRun>, name: &str) {
    let said = archived(runs, name, "False").await;
    assert_eq!(said.reason, "StoreUnavailable");
    assert!(
        said.message
            .starts_with("not archived yet, retrying: the archive store could not write v1/"),
        "{}",
        said.message
    );
}

pub fn shared_dir() -> PathBuf {
    std::env::temp_dir().join(format!("minitask-archive-{}-served", std::process::id()))
}

/// The archive's API for this process, on a thread of its own (a test's
/// runtime ends with the test); its port.
pub fn api_port() -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let client = ControlPlane::shared().client_as(ARCHIVE_USER).await;
                let proxy = minitask_archive::api::auth::front_proxy(&client).await.unwrap();
                let tls = minitask_archive::api::tls::server_config(&proxy.ca_pem, None).unwrap();
                let dir = shared_dir();
                let _ = std::fs::remove_dir_all(&dir);
                let store = store::open(&format!("file://{}", dir.display()), &[]).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let api = minitask_archive::api::Api { store, client, proxy };
                minitask_archive::api::serve(listener, tls, Arc::new(api)).await;
            });
        });
        port
    })
}

/// Registers the archive's API with the API server with deploy/archive's
/// own APIService (its Service names this host) and waits until it is
/// Available.
pub async fn register_api(admin: &Client) {
    let port = api_port();
    let deployed = include_str!("../../../../deploy/archive/apiservice.yaml");
    let api_service = deployed
        .split("\n---\n")
        .find(|doc| doc.contains("kind: APIService"))
        .expect("deploy/archive/apiservice.yaml has an APIService")
        .replace("port: 443", &format!("port: {port}"));
    let yaml = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: minitask-archive, namespace: minitask-system}}\nspec: {{type: ExternalName, externalName: localhost, ports: [{{name: api, port: {port}}}]}}\n---\n{api_service}"
    );
    minitask_testenv::apply_yaml(admin, &yaml).await.unwrap();
    let services: Api<k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService> =
        Api::all(admin.clone());
    eventually(
        "the archive's APIService to be Available",
        Duration::from_secs(60),
        || async {
            let service = services.get("v1alpha1.archive.minitask.dev").await.ok()?;
            let conditions = service.status?.conditions?;
            conditions
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "True")
                .then_some(())
        },
    )
    .await;
}
