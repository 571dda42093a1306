//! A client that records every request it sends, to check how much the
//! controller asks of the API server.

use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// One request: its verb as the API server's audit log names it (get, list,
/// watch, create, patch, update, delete), its path, and the response's HTTP
/// status (None when no response came).
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub verb: &'static str,
    pub path: String,
    pub status: Option<u16>,
}

impl Request {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// A GET or LIST: what a cache should have answered instead.
    pub fn is_read(&self) -> bool {
        matches!(self.verb, "get" | "list")
    }
}

#[derive(Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<Request>>>);

impl RequestLog {
    /// A client on `config` whose requests land in the returned log.
    pub fn client(config: Config) -> (Client, RequestLog) {
        let log = RequestLog::default();
        let layer = tower::layer::layer_fn({
            let log = log.clone();
            move |inner| Recorder {
                inner,
                log: log.clone(),
            }
        });
        let client = ClientBuilder::try_from(config)
            .expect("client")
            .with_layer(&layer)
            .build();
        (client, log)
    }

    /// Everything recorded so far, and a fresh start.
    pub fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A client on `config` whose answers to the requests `slow` picks arrive
/// `by` late: the request takes effect on the server at once, but the
/// caller resumes only later (a slow or congested API server), so a test
/// can change the world while the caller waits.
pub fn slow_client(
    config: Config,
    slow: impl Fn(&http::Request<Body>) -> bool + Clone + Send + Sync + 'static,
    by: std::time::Duration,
) -> Client {
    let layer = tower::layer::layer_fn(move |inner| Slow {
        inner,
        slow: slow.clone(),
        by,
    });
    ClientBuilder::try_from(config)
        .expect("client")
        .with_layer(&layer)
        .build()
}

#[derive(Clone)]
struct Slow<S, F> {
    inner: S,
    slow: F,
    by: std::time::Duration,
}

impl<S, B, F> tower::Service<http::Request<Body>> for Slow<S, F>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send,
    B: Send,
    F: Fn(&http::Request<Body>) -> bool,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let delay = if (self.slow)(&request) {
            self.by
        } else {
            std::time::Duration::ZERO
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            tokio::time::sleep(delay).await;
            response
        })
    }
}

/// A tower service that logs each request once its response arrives.
#[derive(Clone)]
struct Recorder<S> {
    inner: S,
    log: RequestLog,
}

impl<S, B> tower::Service<http::Request<Body>> for Recorder<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let uri = request.uri();
        let verb = verb(request.method().as_str(), uri.path(), uri.query().unwrap_or(""));
        let path = uri.path().to_string();
        let log = self.log.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let status = response.as_ref().ok().map(|r| r.status().as_u16());
            log.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Request { verb, path, status });
            response
        })
    }
}

fn verb(method: &str, path: &str, query: &str) -> &'static str {
    match method {
        "GET" if query.split('&').any(|p| p == "watch=true" || p == "watch=1") => "watch",
        "GET" if is_collection(path) => "list",
        "GET" => "get",
        "POST" => "create",
        "PATCH" => "patch",
        "PUT" => "update",
        "DELETE" => "delete",
        _ => "other",
    }
}

/// `/api/v1/pods`, `/apis/g/v/namespaces/ns/tasks`: a collection; one more
/// segment names an object (and a further one its subresource).
fn is_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.first() {
        Some(&"api") => &parts[2.min(parts.len())..],
        Some(&"apis") => &parts[3.min(parts.len())..],
        _ => return false,
    };
    matches!(rest, [_resource] | ["namespaces", _, _resource])
}

#[cfg(test)]
mod tests {
    use super::verb;

    #[test]
    fn verbs_follow_the_api_server() {
        let cases = [
            ("GET", "/api/v1/namespaces/a/pods", "labelSelector=x", "list"),
            ("GET", "/api/v1/pods", "", "list"),
            (
                "GET",
                "/api/v1/namespaces/a/pods",
                "watch=true&resourceVersion=1",
                "watch",
            ),
            ("GET", "/api/v1/namespaces/a/pods/p", "", "get"),
            ("GET", "/apis/minitask.dev/v1alpha1/namespaces/a/taskruns", "", "list"),
            ("GET", "/apis/minitask.dev/v1alpha1/namespaces/a/taskruns/r", "", "get"),
            (
                "PATCH",
                "/apis/minitask.dev/v1alpha1/namespaces/a/taskruns/r/status",
                "",
                "patch",
            ),
            ("POST", "/api/v1/namespaces/a/pods", "", "create"),
        ];
        for (method, path, query, want) in cases {
            assert_eq!(verb(method, path, query), want, "{method} {path}?{query}");
        }
    }
}
