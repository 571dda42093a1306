//! The API's TLS: its serving certificate, and client certificates checked
//! against the front proxy's CA (a request without one is answered 401,
//! never served).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// The serving certificate: from files, or made at start (the APIService
/// then sets `insecureSkipTLSVerify`, or carries a caBundle for a
/// certificate given here).
pub fn server_config(
    proxy_ca_pem: &str,
    cert_and_key: Option<(String, String)>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(proxy_ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let (cert_pem, key_pem) = match cert_and_key {
        Some(pair) => pair,
        None => self_signed()?,
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn self_signed() -> anyhow::Result<(String, String)> {
    let names = vec![
        "minitask-archive.minitask-system.svc".to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ];
    let key = rcgen::KeyPair::generate()?;
    let cert = rcgen::CertificateParams::new(names)?.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The common name of a verified client certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let name = cert.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    Some(name)
}
