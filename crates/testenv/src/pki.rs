//! Throwaway credentials: a CA that issues server and client certificates,
//! for the test control plane and the local cluster.

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use std::path::{Path, PathBuf};

/// A certificate authority that lives as long as the cluster it serves.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
    pub key_pem: String,
}

/// A certificate and its private key, PEM-encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new(common_name: &str) -> anyhow::Result<Ca> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, common_name);
        let cert_pem = params.self_signed(&key)?.pem();
        let key_pem = key.serialize_pem();
        Ok(Ca {
            issuer: Issuer::new(params, key),
            cert_pem,
            key_pem,
        })
    }

    /// A certificate for `common_name` in the `organizations` (Kubernetes
    /// reads them as user and groups), valid for `hosts` (IPs or DNS names)
    /// when it serves TLS.
    pub fn issue(&self, common_name: &str, organizations: &[&str], hosts: &[&str]) -> anyhow::Result<Issued> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        for org in organizations {
            name.push(DnType::OrganizationName, *org);
        }
        params.distinguished_name = name;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A key pair for signing service-account tokens: (private, public) PEM.
pub fn signing_key() -> anyhow::Result<(String, String)> {
    let key = KeyPair::generate()?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}

/// What the test control plane needs, written under one directory.
pub struct Pki {
    pub ca_pem: String,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub service_account_key: PathBuf,
    pub service_account_pub: PathBuf,
    pub tokens: PathBuf,
    pub admin_token: String,
    /// Authenticates as the controller's ServiceAccount (a static token:
    /// RBAC matches the user name, so the deployed ClusterRole applies).
    pub controller_token: String,
    /// More tokens of the controller's ServiceAccount, one per replica a
    /// test runs: the same user, each with its own uid (`replica-<i>`), so
    /// the audit log tells which replica made a request.
    pub replica_tokens: Vec<String>,
    /// The aggregation layer: the CA extension API servers trust for the
    /// API server's proxied requests, and the API server's client
    /// certificate (`front-proxy-client`).
    pub front_proxy_ca: PathBuf,
    pub front_proxy_cert: PathBuf,
    pub front_proxy_key: PathBuf,
}

/// The common name of the API server's front proxy certificate.
pub const FRONT_PROXY_NAME: &str = "front-proxy-client";

/// How many replica tokens a control plane has.
pub const REPLICAS: usize = 8;

/// The uid of replica `index`'s token, as the audit log shows it.
pub fn replica_uid(index: usize) -> String {
    format!("replica-{index}")
}

pub fn generate(dir: &Path) -> anyhow::Result<Pki> {
    std::fs::create_dir_all(dir)?;
    let ca = Ca::new("minitask-test-ca")?;
    let server = ca.issue("kube-apiserver", &[], &["127.0.0.1", "localhost"])?;
    let (sa_key, sa_pub) = signing_key()?;
    let front_proxy_ca = Ca::new("minitask-test-front-proxy-ca")?;
    let front_proxy = front_proxy_ca.issue(FRONT_PROXY_NAME, &[], &[])?;
    let pki = Pki {
        ca_pem: ca.cert_pem.clone(),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        service_account_key: dir.join("sa.key"),
        service_account_pub: dir.join("sa.pub"),
        tokens: dir.join("tokens.csv"),
        admin_token: format!("admin-{:x}", nanos() ^ u128::from(std::process::id())),
        controller_token: format!("controller-{:x}", nanos().rotate_left(17)),
        replica_tokens: (0..REPLICAS)
            .map(|i| format!("replica{i}-{:x}", nanos().rotate_left(29 + i as u32)))
            .collect(),
        front_proxy_ca: dir.join("front-proxy-ca.crt"),
        front_proxy_cert: dir.join("front-proxy-client.crt"),
        front_proxy_key: dir.join("front-proxy-client.key"),
    };
    write(&pki.front_proxy_ca, &front_proxy_ca.cert_pem)?;
    write(&pki.front_proxy_cert, &front_proxy.cert_pem)?;
    write(&pki.front_proxy_key, &front_proxy.key_pem)?;
    write(&pki.server_cert, &server.cert_pem)?;
    write(&pki.server_key, &server.key_pem)?;
    write(&pki.service_account_key, &sa_key)?;
    write(&pki.service_account_pub, &sa_pub)?;
    // token,user,uid,"group1,group2": the admin is in system:masters.
    let mut tokens = format!(
        "{},admin,admin,system:masters\n{},{},controller,system:serviceaccounts\n",
        pki.admin_token,
        pki.controller_token,
        crate::CONTROLLER_USER
    );
    for (i, token) in pki.replica_tokens.iter().enumerate() {
        let uid = replica_uid(i);
        tokens.push_str(&format!(
            "{token},{},{uid},system:serviceaccounts\n",
            crate::CONTROLLER_USER
        ));
    }
    write(&pki.tokens, &tokens)?;
    Ok(pki)
}

pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
