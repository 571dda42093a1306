//! Throwaway credentials for one test control plane: a CA, the API
//! server's serving certificate, the service-account signing key and an
//! admin token.

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};

pub struct Pki {
    pub ca_pem: String,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub service_account_key: PathBuf,
    pub service_account_pub: PathBuf,
    pub tokens: PathBuf,
    pub admin_token: String,
}

pub fn generate(dir: &Path) -> anyhow::Result<Pki> {
    std::fs::create_dir_all(dir)?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "minitask-test-ca");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let service_account_key = KeyPair::generate()?;
    let admin_token = format!("admin-{:x}", std::process::id() as u128 * 1_000_003 + nanos());
    let pki = Pki {
        ca_pem: ca_cert.pem(),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        service_account_key: dir.join("sa.key"),
        service_account_pub: dir.join("sa.pub"),
        tokens: dir.join("tokens.csv"),
        admin_token,
    };
    write(&pki.server_cert, &server_cert.pem())?;
    write(&pki.server_key, &server_key.serialize_pem())?;
    write(&pki.service_account_key, &service_account_key.serialize_pem())?;
    write(&pki.service_account_pub, &service_account_key.public_key_pem())?;
    // token,user,uid,"group1,group2": the admin is in system:masters.
    write(
        &pki.tokens,
        &format!("{},admin,admin,system:masters\n", pki.admin_token),
    )?;
    Ok(pki)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
