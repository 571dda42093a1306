//! `minitask-hooks`: the webhook receiver (deploy/hooks).

use clap::Parser;
use kube::Client;
use minitask_hooks::cache::Cache;
use minitask_hooks::record::Recorder;
use minitask_hooks::{Config, serve};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    version,
    about = "Receives signed webhook deliveries for mini-task Triggers and starts their runs"
)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "0.0.0.0:8080")]
    addr: std::net::SocketAddr,
    /// Serve the Triggers of one namespace; all when unset.
    #[arg(long)]
    namespace: Option<String>,
    /// The largest body accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = minitask_hooks::server::BODY_LIMIT)]
    body_limit: usize,
    /// Log filter, as in RUST_LOG.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_level: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log_level))
        .init();
    let client = Client::try_default().await?;
    let (cache, caching) = Cache::start(&client, args.namespace.as_deref());
    let recorder = Recorder::default();
    tokio::spawn(caching);
    tokio::spawn(recorder.clone().run(client.clone(), cache.clone()));
    let listener = TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %args.addr, "receiving webhooks at /hooks/{{namespace}}/{{trigger}}");
    let config = Config {
        body_limit: args.body_limit,
    };
    tokio::select! {
        _ = serve(listener, client, cache, recorder, config) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
