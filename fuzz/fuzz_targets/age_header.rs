//! Bounded work on hostile ciphertext: whatever the bytes (armored or binary age, or neither),
//! opening them never panics, a header beyond the stanza bounds is refused before the age crate
//! parses it (its parser is quadratic in the header's size), and what passes the bound has at
//! most `MAX_STANZAS` stanzas. libFuzzer's `-timeout` catches any input that is slow to open.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sealpass_core::crypto::{self, Identities};

fn identities() -> &'static Identities {
    static IDS: OnceLock<Identities> = OnceLock::new();
    IDS.get_or_init(|| {
        let (secret, _) = crypto::generate_identity("fuzz");
        Identities::parse(secrecy::ExposeSecret::expose_secret(&secret).as_bytes()).expect("a fresh identity parses")
    })
}

fuzz_target!(|data: &[u8]| {
    // (Bounds are on the binary header: armored input is measured after decoding, in `open`.)
    let armored = data.trim_ascii().starts_with(b"-----BEGIN");
    if !armored && crypto::header_within_bounds(data).is_ok() {
        let stanzas = crypto::stanza_types(data).map_or(0, |t| t.len());
        assert!(stanzas <= crypto::MAX_STANZAS, "passed the bound with too many stanzas");
    }
    let _ = crypto::open(data, identities());
    if let Ok(text) = std::str::from_utf8(data) {
        if crypto::check_armored(text).is_ok() {
            let stanzas = crypto::stanza_types(data).map_or(0, |t| t.len());
            assert!(stanzas <= crypto::MAX_STANZAS, "an upload passed with too many stanzas");
        }
    }
});
