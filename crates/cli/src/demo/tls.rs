//! TLS for the demo: rustls (aws-lc-rs) on both ends, a certificate made at start (or read
//! from PEM files) that the client trusts explicitly, and the client's secrets collected as
//! NSS key log lines for the trace.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ED25519, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, SupportedProtocolVersion,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::body::hex;
use crate::cli::TlsVersion;

/// The one ALPN protocol both ends speak.
const ALPN: &[u8] = b"http/1.1";

/// Both ends' TLS configurations for one run.
#[derive(Clone)]
pub struct Tls {
    /// Starts the client's handshake.
    pub connector: TlsConnector,
    /// Answers it on the server.
    pub acceptor: TlsAcceptor,
    /// The name the client asks for (SNI) and checks the certificate against.
    pub server_name: ServerName<'static>,
    /// The version the client offers.
    pub version: TlsVersion,
    /// Where the server's certificate came from.
    pub certificate: CertificateSource,
    /// The client's secrets, as they are logged.
    pub keys: Arc<KeyLines>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("server_name", &self.server_name)
            .field("version", &self.version)
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

/// Where the server's certificate came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// Made at start: a demo CA (which the client trusts) and a leaf for the server name.
    Generated,
    /// Read from `--cert`.
    File(String),
}

/// Why TLS could not be set up; the message is one line.
#[derive(Debug)]
pub struct TlsSetupError(pub String);

impl Tls {
    /// Configures both ends: `files` is `--cert` and `--key`, or `None` to generate them.
    pub fn new(
        version: TlsVersion,
        sni: &str,
        files: Option<(&Path, &Path)>,
    ) -> Result<Tls, TlsSetupError> {
        let server_name = ServerName::try_from(sni.to_owned()).map_err(|_| {
            TlsSetupError(format!(
                "--sni {sni:?} is not a DNS name or an IP address (try --sni synack.test)"
            ))
        })?;
        let (chain, key, trusted, certificate) = match files {
            Some((cert, key)) => {
                let (chain, key) = read_pem(cert, key)?;
                let trusted = chain.clone();
                (
                    chain,
                    key,
                    trusted,
                    CertificateSource::File(cert.display().to_string()),
                )
            }
            None => {
                let (chain, key, ca) = generate(sni).map_err(|e| {
                    TlsSetupError(format!("generating a certificate for {sni:?} failed: {e}"))
                })?;
                (chain, key, vec![ca], CertificateSource::Generated)
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());

        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(trusted);
        if added == 0 {
            return Err(TlsSetupError(
                "no usable certificate to trust: check the --cert file".into(),
            ));
        }
        let versions: &[&SupportedProtocolVersion] = match version {
            TlsVersion::V1_3 => &[&rustls::version::TLS13],
            TlsVersion::V1_2 => &[&rustls::version::TLS12],
        };
        let keys = Arc::new(KeyLines::default());
        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| TlsSetupError(format!("configuring the TLS client failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![ALPN.to_vec()];
        client.key_log = keys.clone();

        // The server accepts both versions, as real servers do; the client's offer decides.
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(format!("configuring the TLS server failed: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                TlsSetupError(format!(
                    "the --key does not go with the --cert: {e} (give the key of the first \
                     certificate)"
                ))
            })?;
        server.alpn_protocols = vec![ALPN.to_vec()];

        Ok(Tls {
            connector: TlsConnector::from(Arc::new(client)),
            acceptor: TlsAcceptor::from(Arc::new(server)),
            server_name,
            version,
            certificate,
            keys,
        })
    }
}

/// A certificate chain and its key from PEM files; every error is one line with a hint.
fn read_pem(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
    let fail = |what: &str, path: &Path, e: &dyn fmt::Display| {
        TlsSetupError(format!(
            "cannot read the {what} from {}: {e} (--cert and --key take PEM files)",
            path.display()
        ))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| fail("certificate", cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail("certificate", cert, &e))?;
    if chain.is_empty() {
        let e = "no CERTIFICATE section";
        return Err(fail("certificate", cert, &e));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| fail("private key", key, &e))?;
    Ok((chain, key))
}

/// A demo CA and a leaf certificate for `name` signed by it. Ed25519 keeps every signature
/// 64 bytes, so the same seed gives the same segment sizes run after run.
fn generate(
    name: &str,
) -> Result<
    (
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
        CertificateDer<'static>,
    ),
    rcgen::Error,
> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "synack demo CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.serial_number = Some(SerialNumber::from(1));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate_for(&PKCS_ED25519)?)?;

    let mut leaf_params = CertificateParams::new(vec![name.to_owned()])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, name);
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.serial_number = Some(SerialNumber::from(2));
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate_for(&PKCS_ED25519)?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;

    let key = PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    // The server sends its leaf only; the client holds the CA, as a browser holds roots.
    Ok((vec![leaf.der().clone()], key, ca.der().clone()))
}

/// A failed client handshake, with a hint when the certificate was the problem.
pub fn explain_handshake_error(e: io::Error) -> io::Error {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(_)) => io::Error::new(
            e.kind(),
            format!(
                "{e} (the client trusts only the --cert file, or the demo's own CA, and \
                 checks the certificate against --sni)"
            ),
        ),
        _ => e,
    }
}

/// What the handshake settled on, as rustls reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// "TLS 1.3" or "TLS 1.2".
    pub version: Option<String>,
    /// "TLS13_AES_256_GCM_SHA384", ...
    pub cipher_suite: Option<String>,
    /// "X25519", "secp256r1", ...
    pub key_exchange: Option<String>,
}

impl Negotiated {
    /// Reads them off the client's connection after its handshake.
    pub fn of(conn: &ClientConnection) -> Negotiated {
        let version = conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
            other => format!("{other:?}"),
        });
        let cipher_suite = conn.negotiated_cipher_suite().map(|s| {
            let suite = s.suite();
            suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_owned)
        });
        let key_exchange = conn.negotiated_key_exchange_group().map(|g| {
            let name = g.name();
            name.as_str()
                .map_or_else(|| format!("{name:?}"), str::to_owned)
        });
        Negotiated {
            version,
            cipher_suite,
            key_exchange,
        }
    }
}

/// The client's TLS secrets as NSS key log lines (`LABEL client_random secret`, hex), in the
/// order rustls reports them.
#[derive(Debug, Default)]
pub struct KeyLines {
    lines: Mutex<String>,
}

impl KeyLines {
    /// Every line logged so far, each ending in a newline.
    pub fn text(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl rustls::KeyLog for KeyLines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_str(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_is_trusted_for_its_name_only() {
        let tls = Tls::new(TlsVersion::V1_3, "synack.test", None).expect("generated");
        assert_eq!(tls.certificate, CertificateSource::Generated);
        assert!(Tls::new(TlsVersion::V1_2, "10.0.0.2", None).is_ok());
        let bad = Tls::new(TlsVersion::V1_3, "not a name", None).expect_err("bad SNI");
        assert!(bad.0.contains("--sni"), "{}", bad.0);
    }

    #[test]
    fn key_lines_are_nss_format() {
        let keys = KeyLines::default();
        rustls::KeyLog::log(&keys, "CLIENT_RANDOM", &[0xab; 32], &[1, 2, 3]);
        let text = keys.text();
        assert_eq!(text, format!("CLIENT_RANDOM {} 010203\n", "ab".repeat(32)));
        assert_eq!(synack_trace::KeyLog::parse(&text).len(), 1);
    }
}
