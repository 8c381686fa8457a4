//! The client's TLS for `synack get`: the system's CA bundle, a `--cacert` file, or no
//! certificate check at all with `--insecure` (the handshake's signatures are still checked).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::serve::record::{Book, BookKeys};

/// Where system CA bundles usually are (Debian/Ubuntu, Fedora/RHEL, Alpine, openSUSE).
const BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// How the server's certificate is checked.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The CA bundle at this path (`--cacert`, `SSL_CERT_FILE`, or the system's).
    Bundle(PathBuf),
    /// Not at all (`--insecure`).
    Nothing,
}

impl Trust {
    /// `--cacert`, else `--insecure`, else `SSL_CERT_FILE`, else the system's bundle.
    pub fn choose(cacert: Option<&Path>, insecure: bool) -> Result<Trust, String> {
        if let Some(path) = cacert {
            return Ok(Trust::Bundle(path.to_owned()));
        }
        if insecure {
            return Ok(Trust::Nothing);
        }
        if let Some(env) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
            return Ok(Trust::Bundle(PathBuf::from(env)));
        }
        BUNDLES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .map(Trust::Bundle)
            .ok_or_else(|| {
                "no system CA bundle found: give --cacert FILE, or --insecure to skip the check"
                    .to_owned()
            })
    }
}

/// A connector offering TLS 1.3 and 1.2 with ALPN http/1.1, logging its secrets into `book`.
pub fn connector(trust: &Trust, book: &Book) -> Result<TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS failed: {e}"))?;
    let mut config = match trust {
        Trust::Bundle(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read CA certificates from {}: {e}", path.display()))?;
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "no usable CA certificate in {} (PEM expected)",
                    path.display()
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.key_log = Arc::new(BookKeys(book.clone()));
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name to send (SNI) and check: a DNS name, or an IP address (which sends no SNI).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| format!("{host:?} is not a DNS name or an IP address"))
}

/// Accepts any certificate; still checks that the server holds its key.
#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
