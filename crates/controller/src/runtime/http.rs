//! A tiny HTTP server for `/metrics`, `/healthz` and `/readyz`: GET only,
//! one request per connection, enough for Prometheus and the kubelet.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::runtime::metrics::Metrics;

/// What the endpoints report.
pub struct Health {
    pub metrics: Arc<Metrics>,
    /// True once every cache holds a full list.
    pub ready: Box<dyn Fn() -> bool + Send + Sync>,
    /// Why this replica works on no shard, when it cannot. It stays ready
    /// then: a rollout that changes `--shards` must be able to go on, and
    /// an unready new replica would stop it.
    pub problem: Box<dyn Fn() -> Option<String> + Send + Sync>,
}

/// Serves until the process ends.
pub async fn serve(listener: TcpListener, health: Arc<Health>) {
    info!(addr = %listener.local_addr().map_or("?".into(), |a: SocketAddr| a.to_string()), "serving /metrics, /healthz and /readyz");
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let health = health.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 2048];
            let Ok(n) = stream.read(&mut buffer).await else { return };
            let request = String::from_utf8_lossy(&buffer[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (status, content_type, body) = respond(path, &health);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            if let Err(e) = stream.write_all(format!("{head}{body}").as_bytes()).await {
                warn!(%e, "writing an HTTP response");
            }
        });
    }
}

fn respond(path: &str, health: &Health) -> (&'static str, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    match path.split('?').next().unwrap_or_default() {
        "/metrics" => (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            health.metrics.encode(),
        ),
        "/healthz" => ("200 OK", TEXT, "ok\n".into()),
        "/readyz" if (health.ready)() => match (health.problem)() {
            Some(problem) => ("200 OK", TEXT, format!("ok, but {problem}\n")),
            None => ("200 OK", TEXT, "ok\n".into()),
        },
        "/readyz" => ("503 Service Unavailable", TEXT, "caches are not synced yet\n".into()),
        _ => ("404 Not Found", TEXT, "not found\n".into()),
    }
}
