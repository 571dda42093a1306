//! `kubectl task dashboard`: a web view of runs, logs and pipeline graphs,
//! served on this machine with the user's own kubeconfig, so it can do
//! exactly what the user may do. Nothing is installed in the cluster.
//!
//! Pure: `route`, `session`, `index`'s selection, `graph`, `pages`, the
//! form in `actions`. Shell: `server` (HTTP), `views` (reads, then renders),
//! `live` (watches, as server-sent events), `actions` (writes).

mod actions;
mod graph;
mod index;
mod live;
mod pages;
mod route;
mod server;
mod session;
mod views;

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context as _;
use kube::api::Api;
use minitask_api::{PipelineRun, TaskRun};

use crate::cluster::Cluster;
use session::{Session, secret};
use views::State;

#[derive(clap::Args)]
pub struct Args {
    /// Show the runs of every namespace (else -n's, or the context's).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// The address to listen on. Anything but loopback lets other machines
    /// reach the dashboard (they still need the printed token).
    #[arg(long, default_value = "127.0.0.1")]
    pub address: IpAddr,
    /// The port to listen on (0: any free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Print the URL without opening a browser.
    #[arg(long)]
    pub no_open: bool,
}

/// Serves until Ctrl-C.
pub async fn run(cluster: Cluster, args: Args) -> anyhow::Result<()> {
    crate::prompt::never_ask();
    let listener = tokio::net::TcpListener::bind((args.address, args.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{}; choose another --port or --address",
                args.address, args.port
            )
        })?;
    let port = listener.local_addr()?.port();
    if !args.address.is_loopback() {
        eprintln!(
            "warning: listening on {}, not loopback: other machines can reach the dashboard; anyone with its URL acts as you in the cluster",
            args.address
        );
    }
    let address = args.address.to_string();
    let session = Session::new(secret(), secret(), secret(), &address, port);
    let url = session.url(&address, port);
    let scope = (!args.all_namespaces).then(|| cluster.namespace.clone());
    let index = index::Index::new();
    let (taskruns, pipelineruns): (Api<TaskRun>, Api<PipelineRun>) = match &scope {
        Some(ns) => (
            Api::namespaced(cluster.client.clone(), ns),
            Api::namespaced(cluster.client.clone(), ns),
        ),
        None => (Api::all(cluster.client.clone()), Api::all(cluster.client.clone())),
    };
    index.follow(taskruns, pipelineruns, cluster.server.clone());
    let state = Arc::new(State {
        cluster,
        scope,
        session,
        index,
    });
    println!("{url}");
    if !args.no_open {
        open(&url);
    }
    eprintln!("serving the dashboard until Ctrl-C");
    tokio::select! {
        _ = server::serve(listener, state) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// Opens `url` in the user's browser, if this machine says how.
fn open(url: &str) {
    let opener = match std::env::consts::OS {
        "macos" => "open",
        "windows" => "explorer",
        _ => "xdg-open",
    };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if opened.is_err() {
        eprintln!("could not open a browser ({opener}); open the URL above");
    }
}
