//! The archive's read API: `archive.minitask.dev/v1alpha1`, served behind
//! the Kubernetes API server (an APIService), so that readers use their
//! kubeconfig and their own RBAC.
//!
//! Pure: `route` (what a request asks), `selector`, `objects`, `discovery`,
//! `status`. Shell: `tls`, `auth` (who asks, and may they), `read` (the
//! store), and the server below.

pub mod auth;
pub mod discovery;
pub mod objects;
pub mod read;
pub mod route;
pub mod selector;
pub mod status;
pub mod tls;

use std::convert::Infallible;
use std::sync::Arc;

use bytes_body::Body;
use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kube::Client;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info};

use crate::keys::Kind;
use crate::store::Store;
use auth::FrontProxy;
use route::Route;
use status::Failure;

/// What every request needs.
pub struct Api {
    pub store: Store,
    /// Asks the API server's authorizer (SubjectAccessReviews).
    pub client: Client,
    pub proxy: FrontProxy,
}

mod bytes_body {
    pub type Body = http_body_util::Full<hyper::body::Bytes>;
}

/// Serves until the process ends.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, api: Arc<Api>) {
    info!(addr = ?listener.local_addr().ok(), "serving archive.minitask.dev/v1alpha1");
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, api) = (acceptor.clone(), api.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(stream) => stream,
                Err(e) => {
                    debug!(error = %e, "TLS handshake failed");
                    return;
                }
            };
            // rustls verified the chain against the front proxy's CA.
            let proxy_name = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|cert| tls::common_name(cert));
            let service = service_fn(move |request| {
                let (api, proxy_name) = (api.clone(), proxy_name.clone());
                async move { Ok::<_, Infallible>(handle(&api, proxy_name.as_deref(), request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(api: &Api, proxy_name: Option<&str>, request: Request<Incoming>) -> Response<Body> {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .map(str::to_string);
    let outcome = answer(api, proxy_name, &request, accept.as_deref()).await;
    match outcome {
        Ok(Answer::Json(value)) => respond(StatusCode::OK, "application/json", value.to_string().into_bytes()),
        Ok(Answer::Text(bytes)) => respond(StatusCode::OK, "text/plain; charset=utf-8", bytes),
        Err(failure) => respond(
            StatusCode::from_u16(failure.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "application/json",
            failure.to_status().to_string().into_bytes(),
        ),
    }
}

enum Answer {
    Json(Value),
    Text(Vec<u8>),
}

async fn answer(
    api: &Api,
    proxy_name: Option<&str>,
    request: &Request<Incoming>,
    accept: Option<&str>,
) -> Result<Answer, Failure> {
    if request.method() != Method::GET {
        return Err(Failure::method_not_allowed(
            "the archive is read-only: only GET is served",
        ));
    }
    let route = route::route(request.uri().path(), request.uri().query())?;
    if route == Route::Health {
        return Ok(Answer::Text(b"ok".to_vec()));
    }
    // Discovery is the same for everyone (the API server's availability
    // check names no user), but only through the front proxy.
    match route.access() {
        Some(access) => {
            let user = auth::identify(proxy_name, &api.proxy, request.headers())?;
            auth::authorize(&api.client, &user, access).await?;
        }
        None => auth::proxied(proxy_name, &api.proxy)?,
    }
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let table = objects::wants_table(accept);
    Ok(match route {
        Route::Health => unreachable!("answered above"),
        Route::Discovery(route::Discovery::Groups) => Answer::Json(discovery::groups()),
        Route::Discovery(route::Discovery::Group) => Answer::Json(discovery::group()),
        Route::Discovery(route::Discovery::Resources) => Answer::Json(discovery::resources()),
        Route::List(list) => {
            let page = read::list(&api.store, &list).await?;
            let kind = kind_name(list.kind);
            Answer::Json(match table {
                true => objects::table(kind, &page.records, page.last.as_deref(), &now),
                false => objects::list(kind, &page.records, page.last.as_deref()),
            })
        }
        Route::Get { kind, namespace, name } => {
            let record = read::newest(&api.store, kind, &namespace, &name).await?;
            Answer::Json(match table {
                true => objects::table(kind_name(kind), std::slice::from_ref(&record), None, &now),
                false => objects::item(&record),
            })
        }
        Route::Log(log) => Answer::Text(read::log(&api.store, &log).await?),
    })
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::TaskRun => "TaskRun",
        Kind::PipelineRun => "PipelineRun",
    }
}

fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
