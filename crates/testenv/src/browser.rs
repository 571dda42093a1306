//! A real browser for tests: Debian's headless Chromium, driven over the
//! DevTools protocol (a WebSocket of JSON commands). Only what the tests
//! need: open a page, run a script in it, wait for a condition, take a
//! screenshot. `cargo xtask testenv` installs Chromium.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// Where Debian puts Chromium (or $MINITASK_CHROMIUM).
pub fn chromium() -> PathBuf {
    std::env::var_os("MINITASK_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

pub struct Browser {
    child: Child,
    profile: PathBuf,
    socket: Mutex<WebSocketStream<MaybeTlsStream<TcpStream>>>,
    session: String,
    next: AtomicU64,
}

impl Browser {
    /// Starts a headless Chromium with a profile of its own and one tab.
    pub async fn start() -> anyhow::Result<Browser> {
        let binary = chromium();
        if !binary.exists() {
            bail!(
                "{} is not there: `cargo xtask testenv` installs Debian's chromium (or set MINITASK_CHROMIUM)",
                binary.display()
            );
        }
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let profile = std::env::temp_dir().join(format!(
            "minitask-chromium-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile)?;
        // Without the networking flags Chromium tries Google's hosts, which
        // this closed network refuses, many at a time.
        let mut child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stderr = child.stderr.take().context("chromium's stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("ws://") {
                    return Some(line[at..].trim().to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .context("chromium did not say where its DevTools listen")?;
        // Keep reading its stderr, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = connect_async(&url).await.context("connecting to chromium's DevTools")?;
        let mut browser = Browser {
            child,
            profile,
            socket: Mutex::new(socket),
            session: String::new(),
            next: AtomicU64::new(1),
        };
        let target = browser
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await?;
        browser.session = attached["sessionId"].as_str().unwrap_or_default().to_string();
        browser.call("Page.enable", json!({})).await?;
        browser.call("Runtime.enable", json!({})).await?;
        Ok(browser)
    }

    /// Sends one DevTools command to the tab and returns its result.
    pub async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = Value::from(self.session.clone());
        }
        let mut socket = self.socket.lock().await;
        socket.send(Message::text(message.to_string())).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(frame) = tokio::time::timeout(left, socket.next()).await.ok().flatten() else {
                bail!("chromium did not answer {method}");
            };
            let Message::Text(text) = frame? else { continue };
            let answer: Value = serde_json::from_str(&text)?;
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(error) = answer.get("error") {
                bail!("{method}: {error}");
            }
            return Ok(answer["result"].clone());
        }
    }

    /// Opens `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        let result = self.call("Page.navigate", json!({"url": url})).await?;
        if let Some(error) = result.get("errorText") {
            bail!("opening {url}: {error}");
        }
        self.wait_for(
            &format!("{url} to load"),
            "document.readyState === 'complete'",
            Duration::from_secs(30),
        )
        .await?;
        Ok(())
    }

    /// Runs `script` in the page (awaiting a promise) and returns its value.
    pub async fn eval(&self, script: &str) -> anyhow::Result<Value> {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": script, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(exception) = result.get("exceptionDetails") {
            bail!(
                "the script failed: {}",
                exception["exception"]["description"].as_str().unwrap_or("?")
            );
        }
        Ok(result["result"]["value"].clone())
    }

    /// Waits until `script` is true in the page (it checks the page, not
    /// the cluster).
    pub async fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Value::Bool(true)) = self.eval(script).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                let html = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await
                    .unwrap_or_default();
                bail!(
                    "waited {timeout:?} for {what}; the page shows:\n{}",
                    html.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the page as it is, written to `path`.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap_or_default())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, bytes)?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
