//! The drop server's upload check (well-formed armored age without decrypting): any text is
//! accepted or refused with a reason, never a panic; whatever it accepts the age reader can
//! at least start to read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if sealpass_core::crypto::check_armored(text).is_ok() {
        let reader = age::armor::ArmoredReader::new(text.trim().as_bytes());
        assert!(age::Decryptor::new_buffered(reader).is_ok(), "accepted, but age cannot read its header");
    }
});
