//! Pickup links, request links and server base URLs as people paste them: parse or refuse,
//! never panic, never echo a token in an error; what parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpass_core::link::{LinkError, is_id, parse_pickup, parse_request, server_base};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pickup) = parse_pickup(text, Some("https://drop.example.com")) {
        assert_eq!(parse_pickup(&pickup.to_string(), None).as_ref(), Ok(&pickup));
    }
    match parse_request(text) {
        Ok(request) => {
            assert_eq!(parse_request(&request.to_string()).as_ref(), Ok(&request));
            // Debug never prints the token (the rest of the link may happen to contain its text).
            let others = format!("{} {} {}", request.server, request.id, request.fingerprint);
            assert!(!format!("{request:?}").contains(&request.token) || others.contains(&request.token));
        }
        Err(e) => {
            // The only error that quotes its input quotes a bare id, which is no secret; every
            // other message is fixed text (which may happen to contain, say, "https://").
            if let LinkError::NoServer(id) = &e {
                assert!(is_id(id), "an error echoed more than an id");
            }
        }
    }
    if let Ok(base) = server_base(text) {
        assert_eq!(server_base(&base).as_deref(), Ok(base.as_str()));
    }
});
