//! The shell behind each page: read what it shows (the index, or the API
//! server as the user), then render it with `pages`. One function per
//! route; `Reply` says what to send.

mod catalog;
mod run;
mod runs;

pub use catalog::{catalog, rerun_form, show, start, start_form};
pub use run::{log, pipeline_logs, run_page};
pub use runs::{archive_page, runs_page};

use std::sync::Arc;

use futures::Stream;
use hyper::body::Bytes;
use maud::{Markup, html};

use super::index::{Index, RunKind};
use super::pages::{self, Frame};
use super::session::Session;
use crate::cluster::Cluster;

/// Lines of a step's log a page shows; the rest is behind a link.
pub const LOG_TAIL: i64 = 1000;

pub type ByteStream = std::pin::Pin<Box<dyn Stream<Item = Bytes> + Send>>;

pub enum Reply {
    Html(u16, Markup),
    Redirect(String),
    /// text/plain, streamed.
    Text(ByteStream),
    /// text/event-stream.
    Events(ByteStream),
}

/// What every view needs.
pub struct State {
    pub cluster: Cluster,
    /// The namespace shown; None with -A.
    pub scope: Option<String>,
    pub session: Session,
    pub index: Arc<Index>,
}

impl State {
    /// The user's client, working in `ns`.
    pub fn in_ns(&self, ns: &str) -> Cluster {
        Cluster {
            namespace: ns.to_string(),
            ..self.cluster.clone()
        }
    }

    fn frame<'a>(&'a self, title: &'a str, live: Option<String>) -> Frame<'a> {
        Frame {
            title,
            scope: self.scope.as_deref(),
            live,
            csrf: &self.session.csrf,
        }
    }

    /// A whole page, or only its live part when `fragment`. Render it
    /// after reading what it shows.
    fn page(&self, title: &str, path: &str, fragment: bool, live: Markup, below: Option<Markup>) -> Reply {
        let content = html! { div #live { (live) } @if let Some(b) = below { (b) } };
        if fragment {
            return Reply::Html(200, content);
        }
        // The index's version as rendered: a change before the page
        // listens is still said.
        let events = format!(
            "/events?view={}&since={}",
            super::route::encode(path),
            self.index.version()
        );
        Reply::Html(200, pages::page(&self.frame(title, Some(events)), content))
    }

    pub fn failure(&self, status: u16, heading: &str, message: &str) -> Reply {
        Reply::Html(status, pages::failure(&self.frame(heading, None), heading, message))
    }
}

fn status_of(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        _ => 502,
    }
}

fn not_found(state: &State, kind: RunKind, name: &str, ns: &str) -> Reply {
    state.failure(
        404,
        &format!("{} {name}", kind.word()),
        &format!(
            "{} {name} is not in namespace {ns}, nor in the run archive; it may have been deleted (see the runs of the namespace)",
            kind.word()
        ),
    )
}
