//! The vendor's signed manifest as a client reads it from `/v1/info`: any bytes are parsed and
//! verified without a panic, and nothing but a manifest the expected vendor key signed is ever
//! accepted (the fuzzer holds no key that signs for the expected fingerprint, so every input must
//! be refused).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpass_core::manifest::{self, Expect, SignedManifest};

fuzz_target!(|data: &[u8]| {
    let Ok(signed) = serde_json::from_slice::<SignedManifest>(data) else { return };
    // The fingerprint of a key nobody has (all zero bytes is not a point anyone can sign for).
    let expected = manifest::fingerprint(&"00".repeat(32));
    let expect = Expect { vendor_key: &expected, server: "https://drop.example", now: 1_796_000_000, min_serial: 0 };
    assert!(manifest::verify(&signed, expect).is_err(), "accepted a manifest nobody signed");
    // A server's check of its own manifest never panics either.
    let _ = manifest::check_own(&signed, &[], &[], &"00".repeat(32), None, 1_796_000_000);
});
