//! Every API request body the server parses (`CreateDrop`, `CreateRequest`), the inbox cursor
//! it reads from the query, and every answer the client parses from a possibly hostile server
//! (audit pages and receipts included, then checked): parse or refuse, never panic; what parses
//! serialises and parses back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpass_core::api::{
    AuditPage, Claimed, CreateDrop, CreateRequest, DropCreated, DropStatus, ErrorBody, Inbox, InboxCursor, Info,
    RequestCreated, RequestStatus,
};
use sealpass_core::receipt::Receipt;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_vec(&value).expect("what parsed serialises");
        let again: T = serde_json::from_slice(&text).expect("what serialised parses");
        assert_eq!(serde_json::to_vec(&again).unwrap(), text);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<CreateDrop>(data);
    round_trip::<CreateRequest>(data);
    round_trip::<Info>(data);
    round_trip::<DropCreated>(data);
    round_trip::<DropStatus>(data);
    round_trip::<Claimed>(data);
    round_trip::<Inbox>(data);
    round_trip::<RequestCreated>(data);
    round_trip::<RequestStatus>(data);
    round_trip::<ErrorBody>(data);
    round_trip::<AuditPage>(data);
    round_trip::<Receipt>(data);
    // What `audit verify` and `receipt verify` do with a hostile server's answer: judge, never panic.
    if let Ok(page) = serde_json::from_slice::<AuditPage>(data) {
        let _ = sealpass_core::audit::verify_records(&sealpass_core::audit::Head::empty(), &page.entries);
    }
    if let Ok(receipt) = serde_json::from_slice::<Receipt>(data) {
        let _ = sealpass_core::receipt::verify(&receipt, None);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(cursor) = InboxCursor::decode(text) {
            assert_eq!(InboxCursor::decode(&cursor.encode()), Some(cursor));
        }
    }
});
