//! The vendor's X.509 certificate (SPEC §9): made once by `sealpass cert new`, registered by
//! customers in Salesforce (JWT bearer) or Entra ID (certificate credential) so that no secret
//! ever leaves them, and published by the server. Making one draws an RSA key from the OS; the
//! rest is pure: PEM text in, what a person must compare (subject, validity, fingerprints) out.

use std::fmt;

use rustls_pki_types::pem::{PemObject, SectionKind};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::der::Decode;
use zeroize::Zeroizing;

/// Key size: what Salesforce and Entra accept, and long-lived enough (NIST: 128-bit security).
pub const RSA_BITS: usize = 3072;
/// Default validity of a new certificate, in days.
pub const DEFAULT_DAYS: u32 = 730;
/// Longest validity `cert new` makes, in days.
pub const MAX_DAYS: u32 = 3650;
/// Largest certificate file read: one certificate (an RSA-4096 one is under 2 KiB of PEM). Eight
/// of them fit in the `/v1/info` a client reads.
pub const MAX_PEM_BYTES: usize = 8 * 1024;

/// Why a certificate could not be made or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    /// A private key where only a public certificate belongs.
    #[error("it holds a private key: only the public certificate (.crt) may be published; keep the .key elsewhere")]
    PrivateKey,
    /// No certificate in it.
    #[error("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    /// More than one certificate.
    #[error("it holds {0} certificates; give one certificate a file")]
    Several(usize),
    /// Not PEM or not X.509.
    #[error("it is not a readable X.509 certificate: {0}")]
    Malformed(String),
    /// A bad name or validity for a new certificate.
    #[error("{0}")]
    Invalid(String),
    /// The key or the certificate could not be made.
    #[error("could not make the certificate: {0}")]
    Make(String),
}

/// What a person compares about a certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The PEM text (one certificate, LF line ends).
    pub pem: String,
    /// The subject, RFC 4514 (`CN=kore-integration`).
    pub subject: String,
    /// Start of validity.
    pub not_before: time::OffsetDateTime,
    /// End of validity.
    pub not_after: time::OffsetDateTime,
    /// SHA-256 over the DER, lowercase hex (what sealpass fingerprints cover).
    pub sha256: String,
    /// SHA-1 over the DER, uppercase hex without colons: the "thumbprint" Entra ID shows.
    pub sha1_thumbprint: String,
    /// The public key's algorithm and size, for people (`RSA 3072`).
    pub key: String,
    /// The public key's bits as the certificate holds them (to match a private key against).
    pub public_key: Vec<u8>,
    /// The name a server publishes it under, when it came from a server.
    pub published_as: Option<String>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Whether it is valid at `now`.
    pub fn valid_at(&self, now: time::OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// A made key and certificate.
pub struct Made {
    /// The private key, PKCS #8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub key_pem: Zeroizing<String>,
    /// The certificate.
    pub certificate: Certificate,
}

impl fmt::Debug for Made {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Made").field("key_pem", &"[REDACTED]").field("certificate", &self.certificate).finish()
    }
}

/// Whether `name` can be a certificate's common name and a file name: 1–64 of a–z A–Z 0–9 . _ -,
/// not starting with a dot or dash.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !name.starts_with(['.', '-'])
}

/// [`valid_name`], as an error that says what a name may be.
pub fn check_name(name: &str) -> Result<(), CertError> {
    if valid_name(name) {
        return Ok(());
    }
    Err(CertError::Invalid(
        "a certificate's name must be 1–64 characters of a–z, A–Z, 0–9, . _ - (not starting with . or -), e.g. \
         kore-integration"
            .into(),
    ))
}

/// A new RSA-3072 key (drawn from the OS's randomness) and a self-signed certificate for it,
/// named `name`, valid from five minutes before `now` (clock skew) for `days` days. Signed SHA-256 with RSA (PKCS #1 v1.5), which both
/// Salesforce's JWT bearer flow (RS256) and Entra ID expect.
pub fn make(name: &str, days: u32, now: time::OffsetDateTime) -> Result<Made, CertError> {
    use rsa::pkcs8::EncodePrivateKey;
    check_name(name)?;
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(CertError::Invalid(format!("--days must be 1 to {MAX_DAYS}")));
    }
    // The `rsa` crate only generates the key; ring (constant-time) signs with it.
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS).map_err(|e| CertError::Make(e.to_string()))?;
    let der = key.to_pkcs8_der().map_err(|e| CertError::Make(e.to_string()))?;
    let key_pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).map_err(|e| CertError::Make(e.to_string()))?;
    drop(key);
    let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes());
    let signer = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| CertError::Make(e.to_string()))?;
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, name);
    params.distinguished_name = dn;
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(i64::from(days));
    let mut serial = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut serial);
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(&signer).map_err(|e| CertError::Make(e.to_string()));
    let mut signer = signer;
    zeroize::Zeroize::zeroize(&mut signer);
    let cert = cert?;
    let certificate = parse_der(cert.der(), cert.pem())?;
    Ok(Made { key_pem: Zeroizing::new(key_pem.to_string()), certificate })
}

/// What a server publishes about `certificate` under `name`.
pub fn published(name: &str, certificate: &Certificate) -> crate::api::PublishedCertificate {
    crate::api::PublishedCertificate {
        name: name.to_owned(),
        pem: certificate.pem.clone(),
        sha256: certificate.sha256.clone(),
        sha1_thumbprint: certificate.sha1_thumbprint.clone(),
        not_after: rfc3339(certificate.not_after),
    }
}

/// A certificate a server published, read from its PEM: the hashes it states must be the PEM's
/// own (a server cannot show one certificate and have another one fingerprinted).
pub fn verify_published(published: &crate::api::PublishedCertificate) -> Result<Certificate, CertError> {
    if !valid_name(&published.name) {
        return Err(CertError::Malformed("its name is not a certificate name".into()));
    }
    let mut certificate = parse_public_pem(published.pem.as_bytes())?;
    certificate.published_as = Some(published.name.clone());
    if certificate.sha256 != published.sha256 || certificate.sha1_thumbprint != published.sha1_thumbprint {
        return Err(CertError::Malformed("the fingerprints it states are not the certificate's".into()));
    }
    Ok(certificate)
}

/// Read exactly one public certificate from PEM text. A private key anywhere in it is refused:
/// this is what a server publishes.
pub fn parse_public_pem(text: &[u8]) -> Result<Certificate, CertError> {
    let mut certs = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(text) {
        let (kind, der) = section.map_err(|e| CertError::Malformed(format!("bad PEM ({e})")))?;
        let der = Zeroizing::new(der);
        match kind {
            SectionKind::Certificate => certs.push(der),
            SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey => {
                return Err(CertError::PrivateKey);
            }
            _ => {}
        }
    }
    if contains(text, b"PRIVATE KEY-----") {
        return Err(CertError::PrivateKey);
    }
    match certs.len() {
        0 => Err(CertError::NoCertificate),
        1 => {
            let der = &certs[0];
            parse_der(der, pem_of(der))
        }
        n => Err(CertError::Several(n)),
    }
}

/// Whether `needle` occurs in `haystack`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The canonical PEM of a DER certificate.
pub fn pem_of(der: &[u8]) -> String {
    x509_cert::der::pem::encode_string("CERTIFICATE", x509_cert::der::pem::LineEnding::LF, der).unwrap_or_default()
}

/// Read a DER certificate.
pub fn parse_der(der: &[u8], pem: String) -> Result<Certificate, CertError> {
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| CertError::Malformed(e.to_string()))?;
    let tbs = &cert.tbs_certificate;
    let to_time = |t: x509_cert::time::Time| {
        time::OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
            .map_err(|e| CertError::Malformed(e.to_string()))
    };
    let spki = &tbs.subject_public_key_info;
    let key = match spki.algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => {
            let bits = rsa_bits(spki.subject_public_key.raw_bytes()).map_or_else(String::new, |b| format!(" {b}"));
            format!("RSA{bits}")
        }
        "1.2.840.10045.2.1" => "EC".to_owned(),
        "1.3.101.112" => "Ed25519".to_owned(),
        other => format!("algorithm {other}"),
    };
    Ok(Certificate {
        pem,
        subject: tbs.subject.to_string(),
        not_before: to_time(tbs.validity.not_before)?,
        not_after: to_time(tbs.validity.not_after)?,
        sha256: hex(&Sha256::digest(der)),
        sha1_thumbprint: hex(&Sha1::digest(der)).to_ascii_uppercase(),
        key,
        public_key: spki.subject_public_key.raw_bytes().to_vec(),
        published_as: None,
    })
}

/// The modulus size of a DER RSAPublicKey.
fn rsa_bits(der: &[u8]) -> Option<usize> {
    let key = rsa::pkcs1::RsaPublicKey::from_der(der).ok()?;
    let modulus = key.modulus.as_bytes();
    let leading = modulus.iter().take_while(|b| **b == 0).count();
    let bytes = &modulus[leading..];
    let first = *bytes.first()?;
    Some((bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// A thumbprint as people paste it (colons, spaces, either case) in the form Entra shows:
/// uppercase hex, 40 digits (SHA-1) or 64 (SHA-256). `None` when it is not one.
pub fn normal_thumbprint(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    (matches!(digits.len(), 40 | 64) && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| digits.to_ascii_uppercase())
}

/// RFC 3339 for people and JSON.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_normalised_as_entra_shows_them() {
        let colons = "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01";
        assert_eq!(normal_thumbprint(colons).as_deref(), Some("ABCDEF0123456789ABCDEF0123456789ABCDEF01"));
        assert_eq!(normal_thumbprint("abc"), None);
        assert_eq!(normal_thumbprint(&"g".repeat(40)), None);
    }

    #[test]
    fn names_are_file_and_subject_safe() {
        assert!(valid_name("kore-integration"));
        assert!(!valid_name("../x") && !valid_name("-x") && !valid_name("") && !valid_name("a b"));
    }

    #[test]
    fn a_private_key_is_never_published() {
        let text = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBx0\n-----END PRIVATE KEY-----\n";
        assert_eq!(parse_public_pem(text), Err(CertError::PrivateKey));
        let encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMC4=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(parse_public_pem(encrypted), Err(CertError::PrivateKey));
        assert_eq!(parse_public_pem(b"hello"), Err(CertError::NoCertificate));
    }
}
