//! The envelope reader (what `open` and `receive` parse after decryption): any bytes give an
//! envelope or an error, never a panic; what it accepts serialises and reads back the same,
//! unless a field has a shape an older sealpass let through (read leniently, written strictly).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpass_core::envelope::{Envelope, EnvelopeError};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::from_bytes(data) {
        let padded = match envelope.to_padded_bytes() {
            Ok(padded) => padded,
            Err(EnvelopeError::Shape(_)) => return,
            Err(e) => panic!("an envelope that was read can be written: {e}"),
        };
        let again = Envelope::from_bytes(&padded).expect("what was written reads back");
        assert_eq!(again.kind, envelope.kind);
        assert_eq!(again.created_at, envelope.created_at);
    }
});
