//! A TCP proxy between one replica and the API server that can cut the
//! network: while partitioned, every byte either way is dropped (as a
//! network that loses packets), so requests get no answer; when the
//! partition heals, the connections it cut are closed (their peers would
//! time them out) and new ones work. A request sent during the partition
//! never reaches the API server, late or not.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The state of the network: partitioned or not, and how many times it
/// healed (a connection from before a heal is closed).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Net {
    cut: bool,
    heals: u64,
}

pub struct Proxy {
    pub port: u16,
    net: Arc<watch::Sender<Net>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy on a free loopback port to `127.0.0.1:target`.
    pub async fn start(target: u16) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let net = Arc::new(watch::Sender::new(Net::default()));
        let shared = net.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let net = shared.subscribe();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await {
                        carry(client, server, net).await;
                    }
                });
            }
        });
        Ok(Proxy { port, net, accept })
    }

    /// Drops every byte from now on.
    pub fn partition(&self) {
        self.net.send_modify(|n| n.cut = true);
    }

    /// Carries bytes again, on new connections.
    pub fn heal(&self) {
        self.net.send_modify(|n| {
            n.cut = false;
            n.heals += 1;
        });
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies both ways until either side closes or the partition that cut
/// this connection heals.
async fn carry(client: TcpStream, server: TcpStream, net: watch::Receiver<Net>) {
    let born = net.borrow().heals;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = one_way(client_read, server_write, net.clone(), born);
    let down = one_way(server_read, client_write, net, born);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

async fn one_way(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut net: watch::Receiver<Net>,
    born: u64,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = from.read(&mut buffer) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let now = *net.borrow();
                if now.heals != born {
                    return;
                }
                if !now.cut && to.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
            changed = net.changed() => {
                if changed.is_err() || net.borrow().heals != born {
                    return;
                }
            }
        }
    }
}
