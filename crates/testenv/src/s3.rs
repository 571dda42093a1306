//! A real S3 server for the archive's tests: SeaweedFS (`weed server -s3`:
//! master, volume server, filer and S3 gateway in one process), built by
//! `cargo xtask testenv` like etcd and kube-apiserver, started here on free
//! loopback ports with one access key. It lives as long as the thread that
//! started it (a test's), and can be stopped and started again on the same
//! data, as a store that goes away.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::process::{self, Daemon};

/// The bucket the tests write to (made on first write: the key is an
/// admin's).
pub const BUCKET: &str = "minitask-archive";
const ACCESS_KEY: &str = "minitask";
const SECRET_KEY: &str = "minitask-test-secret";

pub struct S3 {
    daemon: Daemon,
    pub endpoint: String,
    /// The filer's address: the gateway stores through it.
    filer: String,
    dir: PathBuf,
}

impl S3 {
    /// Starts SeaweedFS and waits until its S3 gateway answers.
    pub fn start() -> anyhow::Result<S3> {
        let bin = crate::bin_dir()?.join("weed");
        anyhow::ensure!(
            bin.is_file(),
            "{} is missing: run `cargo xtask testenv`, which builds it",
            bin.display()
        );
        let dir = std::env::temp_dir().join(format!("minitask-s3-{}-{}", std::process::id(), process::free_port()?));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))?;
        let identities = serde_json::json!({"identities": [{
            "name": "archive",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]});
        let config = dir.join("s3.json");
        std::fs::write(&config, identities.to_string())?;
        let s3_port = process::free_port()?;
        let mut args = vec![
            "server".to_string(),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-dir={}", dir.join("data").display()),
            "-volume.max=0".into(),
            "-s3".into(),
            format!("-s3.port={s3_port}"),
            format!("-s3.config={}", config.display()),
            // Unused endpoints with fixed default ports: off.
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
        ];
        let filer_port = process::free_port()?;
        args.push(format!("-filer.port={filer_port}"));
        for flag in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port.grpc",
            "s3.port.grpc",
            "debug.port",
        ] {
            args.push(format!("-{flag}={}", process::free_port()?));
        }
        let log = dir.join("weed.log");
        let mut daemon = Daemon::new(None, bin, &args, log.clone());
        daemon.start()?;
        let s3 = S3 {
            daemon,
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            filer: format!("127.0.0.1:{filer_port}"),
            dir,
        };
        s3.wait_until_up().with_context(|| {
            format!(
                "SeaweedFS; the last lines of {}:\n{}",
                log.display(),
                process::tail(&log)
            )
        })?;
        Ok(s3)
    }

    /// The object_store options that reach this server (as the archive
    /// reads them from AWS_* variables).
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_access_key_id", ACCESS_KEY),
            ("aws_secret_access_key", SECRET_KEY),
            ("aws_region", "us-east-1"),
            ("aws_allow_http", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The store is gone: killed (its data stays).
    pub fn stop(&mut self) {
        self.daemon.stop(Duration::ZERO);
    }

    /// Back on the same data and ports.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.daemon.start()?;
        self.wait_until_up()
    }

    /// Until the S3 gateway (a 403 to an unsigned request) and the filer
    /// behind it answer HTTP.
    fn wait_until_up(&self) -> anyhow::Result<()> {
        let gateway = self.endpoint.trim_start_matches("http://").to_string();
        let started = Instant::now();
        loop {
            if answers(&gateway) && answers(&self.filer) {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "the S3 gateway did not answer at {} within 60s",
                self.endpoint
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.daemon.stop(Duration::ZERO);
        if std::env::var_os("MINITASK_KEEP_TESTENV").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether an HTTP server answers at `address` (any status line).
fn answers(address: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}
