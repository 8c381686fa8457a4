//! The server's certificate when `--cert`/`--key` are not given: self-signed ECDSA P-256,
//! which every client supports. (The demo's Ed25519 certificate keeps its segment sizes
//! stable, but browsers offer no Ed25519 signatures in TLS and would fail the handshake.)

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// An acceptor for TLS 1.3 and 1.2 (ALPN http/1.1) with a certificate made now for our
/// addresses and `synack.test`.
pub fn generated(addrs: &[IpAddr]) -> Result<TlsAcceptor, String> {
    let fail = |e: &dyn std::fmt::Display| format!("making a certificate failed: {e}");
    let mut names: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    names.push("synack.test".to_owned());
    let mut params = CertificateParams::new(names).map_err(|e| fail(&e))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "synack serve");
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| fail(&e))?;
    let cert = params.self_signed(&key).map_err(|e| fail(&e))?;
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("configuring TLS failed: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_made_for_our_addresses() {
        let acceptor = generated(&["10.77.0.2".parse().unwrap()]).expect("generated");
        assert_eq!(acceptor.config().alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
