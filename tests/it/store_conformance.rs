//! The store conformance story: every backend must give exactly these answers. Time is passed
//! in explicitly, so expiry and purging are tested without waiting.

use std::sync::Arc;

use sealpass_core::api::{DropState, RequestCursor, RequestState};
use sealpass_core::events::Actor;
use sealpass_server::store::sqlite::SqliteStore;
use sealpass_server::store::{
    Missing, NewDrop, Origin, RequestQuery, RequestRecord, Store, StoreError, TOMBSTONE_SECONDS,
};

/// The story's "now": the real time, so the Redis store's absolute TTLs are real too.
fn t0() -> i64 {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *START.get_or_init(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64)
}

fn new_drop(id: &str, now: i64, ttl: i64, request: Option<&str>) -> NewDrop {
    NewDrop {
        id: id.to_owned(),
        manage_hash: [7; 32],
        ciphertext: format!("ciphertext of {id}"),
        created_at: now,
        expires_at: now + ttl,
        request_id: request.map(str::to_owned),
    }
}

fn request(id: &str, now: i64, ttl: i64) -> RequestRecord {
    RequestRecord {
        id: id.to_owned(),
        upload_hash: [9; 32],
        label: format!("label of {id}"),
        kind: "salesforce-password".into(),
        created_by: Some("alice".into()),
        created_at: now,
        expires_at: now + ttl,
        drop_id: None,
        required_fields: vec!["security_token".into()],
        drop_ttl: Some(3600),
        cancelled_at: None,
    }
}

/// The whole story against one store.
pub async fn conformance(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    // A drop answering a request takes the request's id.
    let (a, b, c, d, e) = ("drop-a", "drop-b", "drop-c", "req-r", "drop-e");

    // Create, read, list.
    let created = store.create_drop(new_drop(a, t0(), 100, None), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    assert_eq!(created.state, DropState::Waiting);
    let got = store.get_drop(a).await.unwrap().unwrap();
    assert_eq!((got.size, got.expires_at, got.manage_hash), ("ciphertext of drop-a".len(), t0() + 100, [7; 32]));
    assert_eq!(store.get_drop("nope").await.unwrap(), None);
    assert_eq!(
        store.create_drop(new_drop(a, t0(), 100, None), &Origin::client(t0(), "192.0.2.1")).await.unwrap_err(),
        StoreError::Duplicate
    );
    let inbox = store.inbox(t0() + 1, None, 100).await.unwrap();
    assert_eq!(inbox.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [a]);

    // Claim: one winner; the winner may claim again and gets the same answer.
    let first = store.claim(a, "alice", &Origin::at(t0() + 5)).await.unwrap();
    assert_eq!(first.ciphertext, "ciphertext of drop-a");
    assert_eq!((first.record.claimed_by.as_deref(), first.record.claimed_at), (Some("alice"), Some(t0() + 5)));
    let again = store.claim(a, "alice", &Origin::at(t0() + 9)).await.unwrap();
    assert_eq!((again.ciphertext, again.record.claimed_at), (first.ciphertext.clone(), Some(t0() + 5)));
    assert_eq!(
        store.claim(a, "bob", &Origin::at(t0() + 9)).await.unwrap_err(),
        StoreError::ClaimedByOther { by: "alice".into(), at: t0() + 5 }
    );
    assert!(store.inbox(t0() + 9, None, 100).await.unwrap().is_empty(), "claimed drops leave the inbox");

    // Acknowledge: only the claimer; idempotent for it; the ciphertext is then gone.
    assert_eq!(store.ack(a, "bob", &Origin::at(t0() + 10)).await.unwrap_err(), StoreError::NotClaimed);
    let received = store.ack(a, "alice", &Origin::at(t0() + 10)).await.unwrap();
    assert_eq!((received.state, received.received_at), (DropState::Received, Some(t0() + 10)));
    assert_eq!(store.ack(a, "alice", &Origin::at(t0() + 11)).await.unwrap().received_at, Some(t0() + 10));
    assert_eq!(store.claim(a, "alice", &Origin::at(t0() + 12)).await.unwrap_err(), StoreError::Received);
    assert_eq!(
        store.claim(a, "bob", &Origin::at(t0() + 12)).await.unwrap_err(),
        StoreError::ClaimedByOther { by: "alice".into(), at: t0() + 5 },
        "to anyone else a received drop is claimed by alice"
    );
    assert_eq!(store.revoke(a, &Actor::Sender, &Origin::at(t0() + 12)).await.unwrap_err(), StoreError::Received);
    assert_eq!(store.ack("nope", "alice", &Origin::at(t0())).await.unwrap_err(), StoreError::NotFound(Missing::Drop));
    assert_eq!(store.claim("nope", "alice", &Origin::at(t0())).await.unwrap_err(), StoreError::NotFound(Missing::Drop));

    // Acknowledging before claiming is refused.
    store.create_drop(new_drop(e, t0(), 100, None), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    assert_eq!(store.ack(e, "alice", &Origin::at(t0() + 1)).await.unwrap_err(), StoreError::NotClaimed);

    // Revoke: idempotent; a revoked drop cannot be claimed or acknowledged.
    store.create_drop(new_drop(b, t0(), 100, None), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    store.claim(b, "bob", &Origin::at(t0() + 1)).await.unwrap();
    let revoked = store.revoke(b, &Actor::Sender, &Origin::at(t0() + 2)).await.unwrap();
    assert_eq!((revoked.state, revoked.revoked_at), (DropState::Revoked, Some(t0() + 2)));
    assert_eq!(store.revoke(b, &Actor::Sender, &Origin::at(t0() + 3)).await.unwrap().revoked_at, Some(t0() + 2));
    assert_eq!(store.claim(b, "bob", &Origin::at(t0() + 3)).await.unwrap_err(), StoreError::Revoked);
    assert_eq!(store.ack(b, "bob", &Origin::at(t0() + 3)).await.unwrap_err(), StoreError::Revoked);
    assert_eq!(
        store.revoke("nope", &Actor::Sender, &Origin::at(t0())).await.unwrap_err(),
        StoreError::NotFound(Missing::Drop)
    );

    // Expiry: reported at once, wiped by the sweeper, tombstone purged 7 days later.
    store.create_drop(new_drop(c, t0(), 10, None), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    assert_eq!(store.claim(c, "alice", &Origin::at(t0() + 10)).await.unwrap_err(), StoreError::Expired);
    assert_eq!(store.get_drop(c).await.unwrap().unwrap().state_at(t0() + 10), DropState::Expired);
    assert_eq!(store.revoke(c, &Actor::Sender, &Origin::at(t0() + 10)).await.unwrap_err(), StoreError::Expired);
    let swept = store.sweep(t0() + 10).await.unwrap();
    assert_eq!(swept.expired, 1, "only drop-c has expired");
    assert_eq!(store.get_drop(c).await.unwrap().unwrap().state, DropState::Expired);
    assert!(store.inbox(t0() + 10, None, 100).await.unwrap().iter().all(|i| i.id != c));
    store.sweep(t0() + 10 + TOMBSTONE_SECONDS - 1).await.unwrap();
    assert!(store.get_drop(c).await.unwrap().is_some(), "the tombstone stays for 7 days");
    assert!(store.sweep(t0() + 10 + TOMBSTONE_SECONDS).await.unwrap().purged >= 1);
    assert!(store.get_drop(c).await.unwrap().is_none(), "and is purged after");

    // A claimed drop that expired stays expired: it is never acknowledged into received,
    // whether or not the sweeper ran.
    store.create_drop(new_drop("late-ack", t0(), 10, None), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    store.claim("late-ack", "alice", &Origin::at(t0() + 9)).await.unwrap();
    assert_eq!(store.ack("late-ack", "alice", &Origin::at(t0() + 10)).await.unwrap_err(), StoreError::Expired);
    store.sweep(t0() + 10).await.unwrap();
    assert_eq!(store.ack("late-ack", "bob", &Origin::at(t0() + 11)).await.unwrap_err(), StoreError::Expired);
    assert_eq!(store.ack("late-ack", "alice", &Origin::at(t0() + 11)).await.unwrap_err(), StoreError::Expired);
    assert_eq!(store.get_drop("late-ack").await.unwrap().unwrap().state, DropState::Expired);

    // Requests: one upload each, bound atomically; label reaches the inbox and the claim.
    let t1 = t0() + 20;
    store.create_request(request("req-r", t1, 1000), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    assert_eq!(
        store.create_request(request("req-r", t1, 1000), &Origin::client(t0(), "192.0.2.1")).await.unwrap_err(),
        StoreError::Duplicate
    );
    assert_eq!(store.get_request("req-r").await.unwrap().unwrap().state_at(t1), RequestState::Open);
    store.create_drop(new_drop(d, t1, 100, Some("req-r")), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    let fulfilled = store.get_request("req-r").await.unwrap().unwrap();
    assert_eq!((fulfilled.state_at(t1), fulfilled.drop_id.as_deref()), (RequestState::Fulfilled, Some(d)));
    assert_eq!(
        store
            .create_drop(new_drop("req-r", t1 + 1, 100, Some("req-r")), &Origin::client(t0(), "192.0.2.1"))
            .await
            .unwrap_err(),
        StoreError::RequestFulfilled
    );
    assert_eq!(store.get_drop("req-r").await.unwrap().unwrap().created_at, t1, "the first upload is untouched");
    assert_eq!(
        store
            .create_drop(new_drop("req-none", t1, 100, Some("req-none")), &Origin::client(t0(), "192.0.2.1"))
            .await
            .unwrap_err(),
        StoreError::NotFound(Missing::Request)
    );
    store.create_request(request("req-s", t1, 5), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    assert_eq!(store.get_request("req-s").await.unwrap().unwrap().state_at(t1 + 5), RequestState::Expired);
    assert_eq!(
        store
            .create_drop(new_drop("req-s", t1 + 5, 100, Some("req-s")), &Origin::client(t0(), "192.0.2.1"))
            .await
            .unwrap_err(),
        StoreError::Expired
    );
    let inbox = store.inbox(t1 + 1, None, 100).await.unwrap();
    let listed = inbox.iter().find(|i| i.id == d).expect("drop-d is waiting");
    assert_eq!((listed.request_id.as_deref(), listed.label.as_deref()), (Some("req-r"), Some("label of req-r")));
    assert_eq!(store.claim(d, "alice", &Origin::at(t1 + 2)).await.unwrap().label.as_deref(), Some("label of req-r"));
    assert_eq!(store.get_request("nope").await.unwrap(), None);

    // The inbox is oldest first and bounded.
    for n in 0..5 {
        store
            .create_drop(new_drop(&format!("order-{n}"), t1 + 10 + n, 100, None), &Origin::client(t0(), "192.0.2.1"))
            .await
            .unwrap();
    }
    let listed: Vec<String> = store.inbox(t1 + 20, None, 100).await.unwrap().into_iter().map(|i| i.id).collect();
    let order: Vec<&String> = listed.iter().filter(|i| i.starts_with("order-")).collect();
    assert_eq!(order, ["order-0", "order-1", "order-2", "order-3", "order-4"], "oldest first");
    assert_eq!(store.inbox(t1 + 20, None, 3).await.unwrap().len(), 3, "bounded");

    inbox_pages(store.clone(), t1 + 30).await;
    concurrent_claims(store.clone(), t1 + 40).await;
    audit_story(store.clone(), t1).await;
    staff_access_story(store.clone(), t1 + 100).await;
}

/// SPEC §12: a claim released, requests cancelled and listed.
async fn staff_access_story(store: Arc<dyn Store>, t: i64) {
    let at = Origin::at;
    // A claim is released by its claimer, or by anyone allowed to release anyone's: the drop
    // waits again, in the inbox, for a new claimer.
    store.create_drop(new_drop("rel-a", t, 100, None), &at(t)).await.unwrap();
    assert_eq!(store.release("rel-a", "alice", false, &at(t + 1)).await.unwrap_err(), StoreError::NotReleasable);
    store.claim("rel-a", "alice", &at(t + 1)).await.unwrap();
    assert_eq!(
        store.release("rel-a", "bob", false, &at(t + 2)).await.unwrap_err(),
        StoreError::ClaimedByOther { by: "alice".into(), at: t + 1 }
    );
    let released = store.release("rel-a", "alice", false, &at(t + 2)).await.unwrap();
    assert_eq!(
        (released.state, released.claimed_by.as_deref(), released.released_by.as_deref(), released.released_at),
        (DropState::Waiting, None, Some("alice"), Some(t + 2))
    );
    assert_eq!(store.get_drop("rel-a").await.unwrap().unwrap(), released);
    assert!(store.inbox(t + 2, None, 500).await.unwrap().iter().any(|i| i.id == "rel-a"), "back in the inbox");
    let bob = store.claim("rel-a", "bob", &at(t + 3)).await.unwrap();
    assert_eq!((bob.record.claimed_by.as_deref(), bob.record.claimed_at), (Some("bob"), Some(t + 3)));
    assert_eq!(bob.ciphertext, "ciphertext of rel-a", "the same ciphertext, for the next claimer");
    assert_eq!(store.ack("rel-a", "alice", &at(t + 3)).await.unwrap_err(), StoreError::NotClaimed);
    let by_admin = store.release("rel-a", "ada", true, &at(t + 4)).await.unwrap();
    assert_eq!((by_admin.state, by_admin.released_by.as_deref()), (DropState::Waiting, Some("ada")));
    store.claim("rel-a", "alice", &at(t + 5)).await.unwrap();
    store.ack("rel-a", "alice", &at(t + 6)).await.unwrap();
    assert_eq!(store.release("rel-a", "alice", false, &at(t + 7)).await.unwrap_err(), StoreError::Received);
    assert_eq!(store.release("rel-a", "ada", true, &at(t + 7)).await.unwrap_err(), StoreError::Received);
    store.create_drop(new_drop("rel-x", t, 10, None), &at(t)).await.unwrap();
    store.claim("rel-x", "alice", &at(t + 1)).await.unwrap();
    assert_eq!(store.release("rel-x", "alice", false, &at(t + 10)).await.unwrap_err(), StoreError::Expired);
    assert_eq!(store.release("nope", "alice", true, &at(t)).await.unwrap_err(), StoreError::NotFound(Missing::Drop));

    // Cancel: once (again is the same answer), and the link is dead at once.
    let alice = Actor::Staff("alice".into());
    store.create_request(request("can-a", t, 1000), &at(t)).await.unwrap();
    let (cancelled, now) = store.cancel_request("can-a", &alice, &at(t + 1)).await.unwrap();
    assert_eq!((cancelled.state_at(t + 1), cancelled.cancelled_at, now), (RequestState::Cancelled, Some(t + 1), true));
    let (again, now) = store.cancel_request("can-a", &alice, &at(t + 2)).await.unwrap();
    assert_eq!((again.cancelled_at, now), (Some(t + 1), false), "the second call cancels nothing");
    assert_eq!(
        store.create_drop(new_drop("can-a", t + 2, 100, Some("can-a")), &at(t + 2)).await.unwrap_err(),
        StoreError::Cancelled
    );
    assert_eq!(store.get_request("can-a").await.unwrap().unwrap().state_at(t + 5000), RequestState::Cancelled);
    store.create_request(request("can-f", t, 1000), &at(t)).await.unwrap();
    store.create_drop(new_drop("can-f", t + 1, 100, Some("can-f")), &at(t + 1)).await.unwrap();
    assert_eq!(store.cancel_request("can-f", &alice, &at(t + 2)).await.unwrap_err(), StoreError::RequestFulfilled);
    let of = |state| RequestQuery { state: Some(state), ..RequestQuery::default() };
    let fulfilled = store.list_requests(&of(RequestState::Fulfilled), t + 3, 500).await.unwrap();
    let can_f = fulfilled.iter().find(|l| l.record.id == "can-f").expect("can-f is fulfilled");
    assert_eq!(can_f.drop_state, Some(DropState::Waiting), "with its drop's state");
    assert!(fulfilled.iter().all(|l| l.record.state_at(t + 3) == RequestState::Fulfilled));
    store.create_request(request("can-e", t, 5), &at(t)).await.unwrap();
    assert_eq!(store.cancel_request("can-e", &alice, &at(t + 5)).await.unwrap_err(), StoreError::Expired);
    assert_eq!(store.cancel_request("nope", &alice, &at(t)).await.unwrap_err(), StoreError::NotFound(Missing::Request));
    // The sweeper records no expiry for a cancelled request: it ended when it was cancelled.
    let before = store.audit_head().await.unwrap().length;
    store.sweep(t + 1001).await.unwrap();
    store.settle().await.unwrap();
    let swept = store.audit_entries(before, 100).await.unwrap();
    let expired: Vec<String> = swept
        .iter()
        .filter(|r| r.event["kind"] == "request.expired")
        .map(|r| r.event["request_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(expired.contains(&"can-e".to_owned()) && !expired.contains(&"can-a".to_owned()), "{expired:?}");
    let cancel_events = store.audit_entries(0, 10_000).await.unwrap();
    let cancels: Vec<_> = cancel_events.iter().filter(|r| r.event["kind"] == "request.cancelled").collect();
    assert_eq!(cancels.len(), 1, "cancelling again records nothing");
    assert_eq!(cancels[0].event["label"], "label of can-a");

    // Listing: newest first, by state and creator, page by page.
    let now = t + 2000;
    for n in 0..5i64 {
        let by = if n % 2 == 0 { "alice" } else { "bob" };
        let r = RequestRecord { created_by: Some(by.into()), ..request(&format!("lst-{n}"), now + n, 1000) };
        store.create_request(r, &at(now)).await.unwrap();
    }
    let ids = |listed: &[sealpass_server::store::ListedRequest], prefix: &str| -> Vec<String> {
        listed.iter().map(|l| l.record.id.clone()).filter(|i| i.starts_with(prefix)).collect()
    };
    let all = store.list_requests(&RequestQuery::default(), now + 10, 500).await.unwrap();
    assert_eq!(ids(&all, "lst-"), ["lst-4", "lst-3", "lst-2", "lst-1", "lst-0"], "newest first");
    let cancelled = store.list_requests(&of(RequestState::Cancelled), now + 10, 500).await.unwrap();
    assert_eq!(ids(&cancelled, ""), ["can-a"]);
    let open = store.list_requests(&of(RequestState::Open), now + 10, 500).await.unwrap();
    assert_eq!(ids(&open, "").len(), 5, "only the five lst- requests are open then: {:?}", ids(&open, ""));
    let by_bob = RequestQuery { created_by: Some("bob".into()), ..RequestQuery::default() };
    assert_eq!(ids(&store.list_requests(&by_bob, now + 10, 500).await.unwrap(), ""), ["lst-3", "lst-1"]);
    // Pages of two, each after the last one's cursor, give the whole list once.
    let mut paged = Vec::new();
    let mut query = RequestQuery::default();
    loop {
        let page = store.list_requests(&query, now + 10, 2).await.unwrap();
        paged.extend(page.iter().map(|l| l.record.id.clone()));
        let Some(last) = page.last().filter(|_| page.len() == 2) else { break };
        query.after = Some(RequestCursor { created_at: last.record.created_at, id: last.record.id.clone() });
    }
    assert_eq!(paged, all.iter().map(|l| l.record.id.clone()).collect::<Vec<_>>());

    // 150 requests in one second (more than a store reads at once), walked 7 at a time while new
    // ones arrive: each of the 150 once, in order, none skipped.
    let tied = now + 50;
    for n in 0..150 {
        store.create_request(request(&format!("tie-{n:03}"), tied, 1000), &at(now)).await.unwrap();
    }
    let mut walked = Vec::new();
    let mut query = RequestQuery::default();
    for page_no in 0.. {
        let page = store.list_requests(&query, now + 10, 7).await.unwrap();
        walked.extend(page.iter().map(|l| l.record.id.clone()).filter(|i| i.starts_with("tie-")));
        if page_no == 3 {
            store.create_request(request("tie-new", tied + 1, 1000), &at(now)).await.unwrap();
        }
        let Some(last) = page.last().filter(|_| page.len() == 7) else { break };
        query.after = Some(RequestCursor { created_at: last.record.created_at, id: last.record.id.clone() });
    }
    let expected: Vec<String> = (0..150).rev().map(|n| format!("tie-{n:03}")).collect();
    assert_eq!(walked, expected);
}

/// Every change above is in the audit log, once, in order, chained; nothing else is.
async fn audit_story(store: Arc<dyn Store>, t1: i64) {
    // req-s expired unanswered: the sweeper records it, once.
    store.sweep(t1 + 6).await.unwrap();
    store.sweep(t1 + 7).await.unwrap();
    let head = store.audit_head().await.unwrap();
    let mut records = Vec::new();
    while records.len() < head.length as usize {
        let page = store.audit_entries(records.len() as u64, 100).await.unwrap();
        assert!(!page.is_empty() && page.len() <= 100);
        records.extend(page);
    }
    assert!(store.audit_entries(head.length, 100).await.unwrap().is_empty());
    assert_eq!(sealpass_core::audit::verify_records(&sealpass_core::audit::Head::empty(), &records).unwrap(), head);
    let entries: Vec<_> = records.iter().map(|r| r.entry().unwrap()).collect();
    let of = |id: &str| -> Vec<(String, String)> {
        entries
            .iter()
            .filter(|e| e.event.drop_id.as_deref() == Some(id) || e.event.request_id.as_deref() == Some(id))
            .map(|e| (e.event.kind.name().to_owned(), serde_json::to_string(&e.event.actor).unwrap()))
            .collect()
    };
    let staff = |name: &str| format!(r#"{{"type":"staff","name":"{name}"}}"#);
    let (sender, sweeper) = (r#"{"type":"sender"}"#.to_owned(), r#"{"type":"sweeper"}"#.to_owned());
    // Every claim that handed out the ciphertext is recorded (alice claimed twice); bob's
    // refusals and the repeated ack are no events.
    assert_eq!(
        of("drop-a"),
        [
            ("drop.created".into(), sender.clone()),
            ("drop.claimed".into(), staff("alice")),
            ("drop.claimed".into(), staff("alice")),
            ("drop.received".into(), staff("alice"))
        ]
    );
    assert_eq!(
        of("drop-b"),
        [
            ("drop.created".into(), sender.clone()),
            ("drop.claimed".into(), staff("bob")),
            ("drop.revoked".into(), sender.clone())
        ]
    );
    assert_eq!(of("drop-c"), [("drop.created".into(), sender.clone()), ("drop.expired".into(), sweeper.clone())]);
    assert_eq!(
        of("req-r"),
        [
            ("request.created".into(), staff("alice")),
            ("drop.created".into(), sender.clone()),
            ("request.fulfilled".into(), sender.clone()),
            ("drop.claimed".into(), staff("alice")),
        ]
    );
    assert_eq!(of("req-s"), [("request.created".into(), staff("alice")), ("request.expired".into(), sweeper)]);
    let fulfilled = entries.iter().find(|e| e.event.kind.name() == "request.fulfilled").unwrap();
    assert_eq!(fulfilled.event.label.as_deref(), Some("label of req-r"));
    let created = entries.iter().find(|e| e.event.drop_id.as_deref() == Some("drop-a")).unwrap();
    assert_eq!(created.event.client.as_deref(), Some("192.0.2.1"));
    let received = store.audit_received("drop-a").await.unwrap().unwrap().entry().unwrap();
    assert_eq!(
        (received.event.kind.name(), received.event.actor.clone()),
        ("drop.received", sealpass_core::events::Actor::Staff("alice".into()))
    );
    assert_eq!(received, *entries.iter().find(|e| e.seq == received.seq).unwrap());
    assert_eq!(store.audit_received("drop-b").await.unwrap(), None);

    // Webhook cursors move forward only.
    assert_eq!(store.webhook_cursor("ops").await.unwrap(), None);
    store.set_webhook_cursor("ops", 5).await.unwrap();
    store.set_webhook_cursor("ops", 3).await.unwrap();
    assert_eq!(store.webhook_cursor("ops").await.unwrap(), Some(5));
    store.set_webhook_cursor("new", 0).await.unwrap();
    assert_eq!(store.webhook_cursor("new").await.unwrap(), Some(0));
    assert!(store.webhook_lease("ops", "server-1", 30).await.unwrap());
}

/// A flood of anonymous drops cannot hide a requested one, and pages cover everything once.
async fn inbox_pages(store: Arc<dyn Store>, now: i64) {
    use sealpass_server::store::InboxCursor;
    // Clear what the story left waiting, so the pages below are exactly ours.
    for item in store.inbox(now, None, 1000).await.unwrap() {
        store.revoke(&item.id, &Actor::Sender, &Origin::at(now)).await.unwrap();
    }
    for n in 0..250 {
        store
            .create_drop(
                new_drop(&format!("flood-{n:03}"), now - 5 + (n % 3), 100, None),
                &Origin::client(t0(), "192.0.2.1"),
            )
            .await
            .unwrap();
    }
    store.create_request(request("req-late", now, 1000), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    store
        .create_drop(new_drop("req-late", now + 1, 100, Some("req-late")), &Origin::client(t0(), "192.0.2.1"))
        .await
        .unwrap();
    let first = store.inbox(now + 2, None, 10).await.unwrap();
    assert_eq!(first[0].id, "req-late", "requested drops come first, however many anonymous ones wait");
    let mut seen = Vec::new();
    let mut after: Option<InboxCursor> = None;
    loop {
        let page = store.inbox(now + 2, after.as_ref(), 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        after = page.last().map(sealpass_server::store::cursor_after);
        seen.extend(page.into_iter().map(|i| i.id));
    }
    assert_eq!(seen.len(), 251, "every waiting drop once");
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 251, "no drop twice");
    assert_eq!(seen[0], "req-late");
    let cursor = InboxCursor::decode(&sealpass_server::store::cursor_after(&first[0]).encode()).unwrap();
    assert_eq!(cursor, sealpass_server::store::cursor_after(&first[0]));
    for id in seen {
        store.revoke(&id, &Actor::Sender, &Origin::at(now + 3)).await.unwrap();
    }
}

/// 50 drops × 8 claimers at once: exactly one winner each, everyone else told who won.
async fn concurrent_claims(store: Arc<dyn Store>, now: i64) {
    let ids: Vec<String> = (0..50).map(|n| format!("race-{n}")).collect();
    for id in &ids {
        store.create_drop(new_drop(id, now, 100, None), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    }
    let mut tasks = Vec::new();
    for staff in 0..8 {
        for id in ids.clone() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                (id.clone(), staff, store.claim(&id, &format!("staff-{staff}"), &Origin::at(now + 1)).await)
            }));
        }
    }
    let mut winners = std::collections::HashMap::new();
    for task in tasks {
        let (id, staff, result) = task.await.unwrap();
        match result {
            Ok(claim) => assert!(winners.insert(id, (staff, claim.record.claimed_by)).is_none(), "two winners"),
            Err(StoreError::ClaimedByOther { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 50, "every drop has exactly one winner");
    for (staff, by) in winners.values() {
        assert_eq!(by.as_deref(), Some(format!("staff-{staff}").as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conforms() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    let store = SqliteStore::open(&dir.path().join("nested/drops.db")).unwrap();
    conformance(Arc::new(store)).await;
}

#[test]
fn sqlite_keeps_what_it_acknowledged_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drops.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        store.create_drop(new_drop("kept", t0(), 100, None), &Origin::client(t0(), "192.0.2.1")).await.unwrap();
    });
    rt.block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.claim("kept", "alice", &Origin::at(t0() + 1)).await.unwrap().ciphertext, "ciphertext of kept");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_conforms() {
    let redis = crate::redis_support::Redis::start(false);
    let store = sealpass_server::store::redis::RedisStore::open(&redis.url()).unwrap();
    conformance(Arc::new(store)).await;
}
