//! The HTTP side: one path per Trigger, `POST /hooks/{namespace}/{name}`,
//! plus `/healthz` and `/readyz`. Every answer but 202/200 creates nothing.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use kube::Client;
use serde_json::json;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::cache::Cache;
use crate::deliver::{Outcome, decide};
use crate::limit::Limits;
use crate::record::{Recorder, delivery};

/// The default body limit: 1 MiB.
pub const BODY_LIMIT: usize = 1 << 20;
/// Deliveries a second per Trigger unless its `rateLimit` says otherwise.
pub const DEFAULT_RATE: u32 = 50;
/// How long a sender may take to send its headers, and then its body.
const HEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const BODY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone)]
pub struct Config {
    pub body_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { body_limit: BODY_LIMIT }
    }
}

struct State {
    client: Client,
    cache: Cache,
    recorder: Recorder,
    limits: Mutex<Limits>,
    config: Config,
}

/// Serves on `listener` until the process ends; the caller keeps `cache`
/// (started with `Cache::start`) and the recorder running.
pub async fn serve(listener: TcpListener, client: Client, cache: Cache, recorder: Recorder, config: Config) {
    let state = Arc::new(State {
        client,
        cache,
        recorder,
        limits: Mutex::default(),
        config,
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(%e, "accepting a connection");
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(request, &state).await) }
            });
            // A sender that trickles its headers is cut off; so is one that
            // trickles its body (BODY_WAIT in `handle`).
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_WAIT)
                .max_headers(100)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn message(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    answer(status, json!({"message": text}))
}

async fn handle(request: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    match path.as_str() {
        "/healthz" => return message(StatusCode::OK, "ok"),
        "/readyz" if state.cache.ready() => return message(StatusCode::OK, "ready"),
        "/readyz" => return message(StatusCode::SERVICE_UNAVAILABLE, "the caches are not synced yet"),
        _ => {}
    }
    let parts: Vec<&str> = path.split('/').collect();
    let ["", "hooks", namespace, name] = parts.as_slice() else {
        return message(
            StatusCode::NOT_FOUND,
            "no webhook here: POST to /hooks/{namespace}/{trigger}",
        );
    };
    let (namespace, name) = (namespace.to_string(), name.to_string());
    // The same answer whether the namespace exists or not.
    let Some(trigger) = state
        .cache
        .trigger(&namespace, &name)
        .filter(|t| t.spec.webhook.is_some())
    else {
        return message(StatusCode::NOT_FOUND, &format!("no webhook Trigger {namespace}/{name}"));
    };
    if request.method() != Method::POST {
        return message(StatusCode::METHOD_NOT_ALLOWED, "webhooks take POST");
    }
    let rate = trigger
        .spec
        .webhook
        .as_ref()
        .and_then(|h| h.rate_limit)
        .unwrap_or(DEFAULT_RATE);
    let allowed = state.limits.lock().unwrap_or_else(|e| e.into_inner()).take(
        &format!("{namespace}/{name}"),
        rate,
        Instant::now(),
    );
    let reject = |reason: &'static str, text: String| {
        state.recorder.note(
            &namespace,
            &name,
            delivery(None, reason, None, Some(text.clone())),
            false,
            Some(reason),
        );
    };
    if !allowed {
        reject("RateLimited", format!("more than {rate} deliveries a second"));
        return message(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Trigger {namespace}/{name} takes at most {rate} deliveries a second (spec.webhook.rateLimit)"),
        );
    }
    let (parts, body) = request.into_parts();
    let limit = state.config.body_limit;
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        reject("TooLarge", format!("a body over {limit} bytes"));
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is larger than {limit} bytes"),
        );
    }
    let Ok(body) = tokio::time::timeout(BODY_WAIT, Limited::new(body, limit).collect()).await else {
        return message(
            StatusCode::REQUEST_TIMEOUT,
            &format!("the body did not arrive within {BODY_WAIT:?}"),
        );
    };
    let body = match body {
        Ok(body) => body.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            reject("TooLarge", format!("a body over {limit} bytes"));
            return message(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {limit} bytes"),
            );
        }
        Err(e) => return message(StatusCode::BAD_REQUEST, &format!("reading the body: {e}")),
    };
    let secret = state.cache.secret(&trigger);
    let outcome = decide(&trigger, secret.as_deref(), &parts.headers, &body);
    respond(state, &namespace, &name, outcome).await
}

async fn respond(state: &State, namespace: &str, name: &str, outcome: Outcome) -> Response<Full<Bytes>> {
    let note = |d, started, rejected| state.recorder.note(namespace, name, d, started, rejected);
    match outcome {
        Outcome::Start { run, delivery: id } => {
            let run_name = run.name().to_string();
            match run.create(&state.client).await {
                Ok(true) => {
                    info!(trigger = %name, %namespace, run = %run_name, delivery = %id, "started a run");
                    note(delivery(Some(id), "Started", Some(run_name.clone()), None), true, None);
                    answer(StatusCode::ACCEPTED, json!({"run": run_name, "kind": run.kind()}))
                }
                Ok(false) => {
                    note(
                        delivery(Some(id), "Duplicate", Some(run_name.clone()), None),
                        false,
                        None,
                    );
                    answer(
                        StatusCode::OK,
                        json!({"run": run_name, "kind": run.kind(), "message": "this delivery started the run already"}),
                    )
                }
                Err(e) => {
                    warn!(trigger = %name, %namespace, %e, "creating a run");
                    let text = format!("could not create {} {run_name}: {e}", run.kind());
                    note(
                        delivery(Some(id), "CreateFailed", None, Some(text.clone())),
                        false,
                        Some("CreateFailed"),
                    );
                    message(StatusCode::SERVICE_UNAVAILABLE, &text)
                }
            }
        }
        Outcome::Ignored(event) => {
            note(
                delivery(
                    None,
                    "Ignored",
                    None,
                    Some(format!("event {event:?} is not in spec.webhook.events")),
                ),
                false,
                None,
            );
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Full::default())
                .unwrap_or_default()
        }
        Outcome::Filtered => {
            note(delivery(None, "Filtered", None, None), false, None);
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Full::default())
                .unwrap_or_default()
        }
        Outcome::Unauthorized { reason, message: text } => {
            note(delivery(None, reason, None, Some(text.clone())), false, Some(reason));
            message(StatusCode::UNAUTHORIZED, &text)
        }
        Outcome::Bad { reason, message: text } => {
            note(delivery(None, reason, None, Some(text.clone())), false, Some(reason));
            message(StatusCode::BAD_REQUEST, &text)
        }
    }
}
