//! The HTTP server: one task per connection (HTTP/1.1), the session check
//! before anything, then the route's view. Every answer forbids framing,
//! sniffing, referrers and any script or style not served from here.

use std::convert::Infallible;
use std::sync::Arc;

use futures::StreamExt;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::route::{self, Route};
use super::session::Access;
use super::views::{self, Reply, State};

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A form is small; anything bigger is refused.
const MAX_FORM: usize = 256 << 10;

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

pub async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

fn streamed(stream: views::ByteStream) -> Body {
    StreamBody::new(stream.map(|b| Ok::<_, Infallible>(Frame::data(b)))).boxed_unsync()
}

fn respond(status: u16, content_type: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn redirect(location: &str, set_cookie: Option<&str>) -> Response<Body> {
    let mut response = respond(303, "text/plain; charset=utf-8", full(""));
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn reply(reply: Reply) -> Response<Body> {
    match reply {
        Reply::Html(status, markup) => respond(status, "text/html; charset=utf-8", full(markup.into_string())),
        Reply::Redirect(location) => redirect(&location, None),
        Reply::Text(stream) => respond(200, "text/plain; charset=utf-8", streamed(stream)),
        Reply::Events(stream) => respond(200, "text/event-stream", streamed(stream)),
    }
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let path_and_query = match query.is_empty() {
        true => path.clone(),
        false => format!("{path}?{query}"),
    };
    let route = route::parse(&path);
    // The page's own script and style need no session (they hold nothing).
    if let Route::Asset(name) = &route {
        return match name.as_str() {
            "app.js" => respond(200, "text/javascript; charset=utf-8", full(APP_JS)),
            "app.css" => respond(200, "text/css; charset=utf-8", full(APP_CSS)),
            _ => respond(404, "text/plain; charset=utf-8", full("no such asset")),
        };
    }
    match state.session.check(&method, &path, &query, request.headers()) {
        Access::Allowed => {}
        Access::Exchange { location, set_cookie } => return redirect(&location, Some(&set_cookie)),
        Access::Refused(status, why) => return reply(state.failure(status, "Not allowed", why)),
    }
    let fragment = request.headers().get("x-fragment").is_some();
    if method == Method::POST {
        let body = match Limited::new(request.into_body(), MAX_FORM).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return reply(state.failure(413, "Too large", "the form is larger than a form can be")),
        };
        let form = route::fields(&String::from_utf8_lossy(&body));
        if !state.session.form_ok(form.get("csrf")) {
            return reply(state.failure(
                403,
                "Not allowed",
                "this form is not from this dashboard's pages: reload the page and try again",
            ));
        }
        return reply(match route {
            Route::Act { ns, kind, name, action } => {
                match super::actions::act(&state.in_ns(&ns), kind, &name, action).await {
                    Ok(location) => Reply::Redirect(location),
                    Err(refusal) => state.failure(refusal.status, "Not done", &refusal.message),
                }
            }
            Route::Start { ns, of, name } => views::start(state, &ns, of, &name, &form).await,
            _ => state.failure(405, "Not allowed", "this page takes no form"),
        });
    }
    if !matches!(method, Method::GET | Method::HEAD) {
        return reply(state.failure(405, "Not allowed", "the dashboard takes GET and POST only"));
    }
    reply(match route {
        Route::Home => Reply::Redirect("/runs".into()),
        Route::Runs => views::runs_page(state, &path_and_query, &query, fragment).await,
        Route::Archive => views::archive_page(state, &query).await,
        Route::Run { ns, kind, name } => views::run_page(state, &path, &ns, kind, &name, fragment).await,
        Route::Rerun { ns, kind, name } => views::rerun_form(state, &ns, kind, &name).await,
        Route::Log { ns, name } => views::log(state, &ns, &name, &query).await,
        Route::PipelineLogs { ns, name } => views::pipeline_logs(state, &ns, &name).await,
        Route::Catalog { ns, of } => views::catalog(state, &path, &ns, of, fragment).await,
        Route::Show { ns, of, name } => views::show(state, &path, &ns, of, &name, fragment).await,
        Route::Start { ns, of, name } => views::start_form(state, &ns, of, &name).await,
        Route::Events => {
            let mut fields = route::fields(&query);
            let view = fields.remove("view").unwrap_or_else(|| "/runs".into());
            let since = fields.get("since").and_then(|v| v.parse().ok());
            Reply::Events(Box::pin(super::live::changes(state, &view, since)))
        }
        Route::Act { .. } => state.failure(405, "Not allowed", "cancel and delete are buttons on the run's page"),
        Route::Asset(_) | Route::NotFound => {
            state.failure(404, "Not found", "there is no such page here; start at the runs")
        }
    })
}
