//! Key files and certificates as a hostile sender or server would send them: the receiver's
//! checks (PEM sections, PKCS #8/#1/SEC1 keys, X.509, PKCS #12, JSON) parse or refuse, never
//! panic, and a verdict's text never quotes a key's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpass_core::keyfile::{KeyFormat, check};

fuzz_target!(|data: &[u8]| {
    let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    for format in [KeyFormat::Pem, KeyFormat::Pkcs12, KeyFormat::Json] {
        let report = check(data, format, now);
        assert_eq!(report.compliant, report.rules.iter().all(|r| r.ok));
    }
    let _ = sealpass_core::cert::parse_public_pem(data);
    let _ = sealpass_core::cert::parse_der(data, String::new());
});
