//! A namespace with a webhook Secret, minitask-hooks serving it, and a raw
//! HTTP client that can send what no well-behaved client would.

use std::net::SocketAddr;
use std::time::Duration;

use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use minitask_api::{LABEL_TRIGGER, TaskRun, Trigger};
use minitask_hooks::cache::Cache;
use minitask_hooks::record::Recorder;
use minitask_testenv::{ControlPlane, HOOKS_USER, eventually};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const SECRET: &str = "it's a secret";

pub struct Hooks {
    pub client: Client,
    pub ns: String,
    pub addr: SocketAddr,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Hooks {
    fn drop(&mut self) {
        for task in &self._tasks {
            task.abort();
        }
    }
}

impl Hooks {
    /// A namespace with the Secret `hook` and minitask-hooks serving it.
    pub async fn start(prefix: &str) -> Hooks {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_test_writer()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .try_init();
        }
        let cp = ControlPlane::shared();
        let client = cp.client().await;
        let ns = cp.namespace(&client, prefix).await;
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "hook", "labels": {"minitask.dev/webhook-secret": "true"}},
            "stringData": {"secret": SECRET},
        });
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &serde_json::from_value(secret).unwrap())
            .await
            .expect("create Secret");
        let hooks_client = cp.client_as(HOOKS_USER).await;
        let (cache, caching) = Cache::start(&hooks_client, Some(&ns));
        let recorder = Recorder::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks = vec![
            tokio::spawn(caching),
            tokio::spawn(recorder.clone().run(hooks_client.clone(), cache.clone())),
            tokio::spawn(minitask_hooks::serve(
                listener,
                hooks_client,
                cache.clone(),
                recorder,
                Default::default(),
            )),
        ];
        eventually("the caches to sync", Duration::from_secs(20), || {
            let cache = cache.clone();
            async move { cache.ready().then_some(()) }
        })
        .await;
        Hooks {
            client,
            ns,
            addr,
            _tasks: tasks,
        }
    }

    /// Creates a Trigger and waits until minitask-hooks serves it.
    pub async fn trigger(&self, name: &str, webhook: Value, run: Value) -> Trigger {
        let trigger: Trigger = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger",
            "metadata": {"name": name},
            "spec": {"run": run, "webhook": webhook},
        }))
        .unwrap();
        let api: Api<Trigger> = Api::namespaced(self.client.clone(), &self.ns);
        let created = api
            .create(&PostParams::default(), &trigger)
            .await
            .expect("create Trigger");
        let path = format!("/hooks/{}/{name}", self.ns);
        eventually("the Trigger to be served", Duration::from_secs(20), || {
            let path = path.clone();
            let request = format!("GET {path} HTTP/1.1\r\nHost: hooks\r\nConnection: close\r\n\r\n");
            async move { (self.raw(request.as_bytes()).await.0 == 405).then_some(()) }
        })
        .await;
        created
    }

    pub fn path(&self, trigger: &str) -> String {
        format!("/hooks/{}/{trigger}", self.ns)
    }

    /// Sends a POST as written: `headers` raw, the body as given.
    pub async fn post(&self, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> (u16, String) {
        let mut request = format!("POST {path} HTTP/1.1\r\nHost: hooks\r\nConnection: close\r\n").into_bytes();
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
            request.extend(format!("Content-Length: {}\r\n", body.len()).bytes());
        }
        for (name, value) in headers {
            request.extend(name.bytes());
            request.extend(b": ");
            request.extend(*value);
            request.extend(b"\r\n");
        }
        request.extend(b"\r\n");
        request.extend(body);
        self.raw(&request).await
    }

    /// Sends bytes and reads the answer's status and body.
    pub async fn raw(&self, request: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        // The server may answer (413) and close before the body is sent.
        let _ = stream.write_all(request).await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (code, body)
    }

    /// The runs of `trigger`.
    pub async fn runs(&self, trigger: &str) -> Vec<TaskRun> {
        let api: Api<TaskRun> = Api::namespaced(self.client.clone(), &self.ns);
        let params = ListParams::default().labels(&format!("{LABEL_TRIGGER}={trigger}"));
        api.list(&params).await.expect("list runs").items
    }

    /// The Trigger's status once `check` holds.
    pub async fn status(
        &self,
        trigger: &str,
        check: impl Fn(&minitask_api::TriggerStatus) -> bool,
    ) -> minitask_api::TriggerStatus {
        let api: Api<Trigger> = Api::namespaced(self.client.clone(), &self.ns);
        eventually("the Trigger's status", Duration::from_secs(20), || {
            let (api, check) = (api.clone(), &check);
            async move {
                let status = api.get(trigger).await.ok()?.status?;
                check(&status).then_some(status)
            }
        })
        .await
    }
}

/// The GitHub headers of a delivery of `body`.
pub fn github(body: &[u8], event: &str, delivery: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "X-Hub-Signature-256",
            minitask_hooks::deliver::sign(SECRET.as_bytes(), body).into_bytes(),
        ),
        ("X-GitHub-Event", event.as_bytes().to_vec()),
        ("X-GitHub-Delivery", delivery.as_bytes().to_vec()),
    ]
}

/// As `post` takes them.
pub fn refs<'a>(headers: &'a [(&'a str, Vec<u8>)]) -> Vec<(&'a str, &'a [u8])> {
    headers.iter().map(|(n, v)| (*n, v.as_slice())).collect()
}
