//! The cluster and namespace to talk to, chosen as kubectl chooses them,
//! with kubectl's global flags, and errors that say which file, context or
//! server is wrong.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use minitask_api::parse_duration;

use crate::errors::root_cause;

/// kubectl's global flags.
#[derive(clap::Args, Clone, Debug, Default)]
#[command(next_help_heading = "Global flags (as in kubectl)")]
pub struct Target {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace, else `default`).
    #[arg(short, long, global = true, value_name = "NAME")]
    pub namespace: Option<String>,
    /// Act as this user (impersonation).
    #[arg(long = "as", global = true, value_name = "USER")]
    pub impersonate: Option<String>,
    /// Act as a member of this group (impersonation); repeatable.
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub impersonate_groups: Vec<String>,
    /// A bearer token to authenticate with, instead of the kubeconfig's user.
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// How long to wait for one answer of the API server, such as 10s; 0
    /// waits as long as it takes.
    #[arg(long, global = true, value_name = "DURATION")]
    pub request_timeout: Option<String>,
    /// More detail in errors: the chain of causes (kubectl's -v).
    #[arg(short = 'v', long = "v", global = true, value_name = "LEVEL")]
    pub verbosity: Option<u8>,
}

/// A connected client, the namespace to work in, and the server's address
/// (for error messages).
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
    pub server: String,
}

impl Target {
    /// A client for the chosen context, and the namespace to work in.
    pub async fn connect(&self) -> anyhow::Result<Cluster> {
        let mut config = self.config().await?;
        if let Some(token) = &self.token {
            let keep = AuthInfo {
                impersonate: config.auth_info.impersonate.clone(),
                impersonate_groups: config.auth_info.impersonate_groups.clone(),
                ..AuthInfo::default()
            };
            config.auth_info = keep;
            let value = format!("Bearer {token}")
                .parse()
                .context("--token: not a valid HTTP header value")?;
            config.headers.push((http::header::AUTHORIZATION, value));
        }
        if let Some(user) = &self.impersonate {
            config.auth_info.impersonate = Some(user.clone());
        }
        if !self.impersonate_groups.is_empty() {
            config.auth_info.impersonate_groups = Some(self.impersonate_groups.clone());
        }
        if let Some(timeout) = &self.request_timeout {
            let limit = request_timeout(timeout)?;
            config.read_timeout = limit;
            config.write_timeout = limit;
            config.connect_timeout = limit;
        }
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let client = Client::try_from(config)
            .map_err(|e| anyhow::anyhow!("setting up a client for {server}: {}", root_cause(&e)))?;
        Ok(Cluster {
            client,
            namespace,
            server,
        })
    }

    /// The client configuration: the kubeconfig (checked, with errors that
    /// name the file and the context), or the pod's service account.
    async fn config(&self) -> anyhow::Result<Config> {
        let Some((kubeconfig, source)) = self.kubeconfig()? else {
            if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() && self.context.is_none() {
                return Config::incluster()
                    .map_err(|e| anyhow::anyhow!("using this pod's service account: {}", root_cause(&e)));
            }
            bail!(
                "no kubeconfig: set KUBECONFIG, pass --kubeconfig FILE, or create ~/.kube/config (kubectl config set-cluster ...)"
            );
        };
        let contexts: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
        let wanted = self.context.clone().or(kubeconfig.current_context.clone());
        match wanted {
            Some(name) if !contexts.contains(&name) => {
                let how = match &self.context {
                    Some(_) => "does not exist",
                    None => "is its current-context, but does not exist",
                };
                bail!("context {name:?} {how} in {source}; {}", list_contexts(&contexts))
            }
            None => bail!(
                "{source} has no current-context; pass --context NAME ({})",
                list_contexts(&contexts)
            ),
            Some(_) => {}
        }
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| anyhow::anyhow!("kubeconfig {source}: {}", root_cause(&e)))
    }

    /// The kubeconfig and where it came from, as kubectl finds it: the
    /// flag, then $KUBECONFIG (files that do not exist are skipped), then
    /// ~/.kube/config. None when there is none.
    pub fn kubeconfig(&self) -> anyhow::Result<Option<(Kubeconfig, String)>> {
        let read = |path: &PathBuf| -> anyhow::Result<Kubeconfig> {
            if !path.exists() {
                bail!(
                    "kubeconfig file {} does not exist; pass an existing file with --kubeconfig",
                    path.display()
                );
            }
            Kubeconfig::read_from(path)
                .map_err(|e| anyhow::anyhow!("kubeconfig {} is not valid: {}", path.display(), root_cause(&e)))
        };
        if let Some(path) = &self.kubeconfig {
            return Ok(Some((read(path)?, path.display().to_string())));
        }
        if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            let paths: Vec<PathBuf> = std::env::split_paths(&list).filter(|p| p.exists()).collect();
            let mut merged: Option<Kubeconfig> = None;
            for path in &paths {
                let next = read(path)?;
                merged = Some(match merged {
                    Some(config) => config
                        .merge(next)
                        .map_err(|e| anyhow::anyhow!("merging $KUBECONFIG: {}", root_cause(&e)))?,
                    None => next,
                });
            }
            let source = format!("$KUBECONFIG ({})", list.to_string_lossy());
            return match merged {
                Some(config) => Ok(Some((config, source))),
                None => bail!("none of the files in {source} exists"),
            };
        }
        let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config"));
        match home.filter(|p| p.exists()) {
            Some(path) => Ok(Some((read(&path)?, path.display().to_string()))),
            None => Ok(None),
        }
    }
}

fn list_contexts(contexts: &[String]) -> String {
    match contexts {
        [] => "it has no contexts".to_string(),
        names => format!("the contexts there are: {}", names.join(", ")),
    }
}

/// `--request-timeout`: a duration (`10s`, `1m`) or a bare number of
/// seconds, as kubectl takes it; 0 means no limit.
fn request_timeout(text: &str) -> anyhow::Result<Option<Duration>> {
    let parsed = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => parse_duration(text).map_err(|e| anyhow::anyhow!("--request-timeout: {e}"))?,
    };
    Ok((!parsed.is_zero()).then_some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_timeouts_read_like_kubectls() {
        assert_eq!(request_timeout("10s").unwrap(), Some(Duration::from_secs(10)));
        assert_eq!(request_timeout("5").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(request_timeout("0").unwrap(), None);
        assert!(request_timeout("soon").is_err());
    }
}
