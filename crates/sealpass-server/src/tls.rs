//! Serving HTTPS directly with rustls: the acceptor from PEM files (the connection loop in
//! `conn` completes each handshake in the connection's own task, so a slow client stalls no
//! one), and the client's address as handlers see it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn invalid(path: &Path, what: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{}: {what}", path.display()))
}

/// Check the TLS files before anything else starts: each readable and what it should be, the key
/// the certificate's. Errors name the setting; the warnings are for a certificate that clients
/// will refuse (a CA certificate used as the server's own).
pub fn check(cert: &Path, key: &Path) -> Result<Vec<String>, String> {
    let certs = certificates(cert).map_err(|e| format!("tls_cert {e}"))?;
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("tls_key {}: not a PEM private key ({e})", key.display()))?;
    let provider = tokio_rustls::rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| format!("tls_key {}: not a usable private key ({e})", key.display()))?;
    let certified = tokio_rustls::rustls::sign::CertifiedKey::new(certs.clone(), signing);
    certified.keys_match().map_err(|_| {
        format!("tls_key {} is not the key of the certificate in tls_cert {}", key.display(), cert.display())
    })?;
    let mut warnings = Vec::new();
    if is_ca(&certs[0]) {
        warnings.push(format!(
            "tls_cert {}: the server's certificate is a CA certificate (basicConstraints CA:TRUE, what `openssl req \
             -x509` makes by default); TLS clients, sealpass's among them, refuse it as a server's certificate. \
             Issue a leaf certificate from that CA (docs/operations.md)",
            cert.display()
        ));
    }
    Ok(warnings)
}

fn certificates(cert: &Path) -> std::io::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(cert, e))?;
    if certs.is_empty() {
        return Err(invalid(cert, "no certificate in the file"));
    }
    Ok(certs)
}

/// Whether a certificate says it is a CA's (basicConstraints CA:TRUE).
fn is_ca(der: &CertificateDer<'_>) -> bool {
    use x509_cert::der::Decode;
    let Ok(parsed) = x509_cert::Certificate::from_der(der.as_ref()) else { return false };
    parsed.tbs_certificate.extensions.iter().flatten().any(|ext| {
        ext.extn_id == const_oid::ObjectIdentifier::new_unwrap("2.5.29.19")
            && x509_cert::ext::pkix::BasicConstraints::from_der(ext.extn_value.as_bytes()).is_ok_and(|b| b.ca)
    })
}

/// A TLS acceptor from PEM files.
pub fn acceptor(cert: &Path, key: &Path) -> std::io::Result<TlsAcceptor> {
    let certs = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(cert, e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(cert, e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The client's socket address, for plain and TLS listeners alike.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);
