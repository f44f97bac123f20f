//! Staff access (SPEC §12): each role allowed what it is for and refused the rest with a 403
//! that names the missing role, whatever the store; and the audit log records which credential
//! and role allowed each change.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::redis_support::Redis;
use crate::server_support::{TestServer, call, is_error};
use sealpass_server::config::StoreUrl;

async fn request_by(server: &TestServer, who: &str) -> (StatusCode, Value) {
    let body = json!({"label": format!("for {who}"), "kind": "salesforce-password"});
    call(server.staff(Method::POST, "/v1/requests", who).json(&body)).await
}

#[track_caller]
fn forbidden(answer: &(StatusCode, Value), role: &str) {
    is_error(answer, StatusCode::FORBIDDEN, "forbidden");
    let message = answer.1["message"].as_str().unwrap();
    let needed = message.split(" role").next().unwrap();
    assert!(needed.starts_with("this needs the ") && needed.contains(role), "{message}");
}

async fn each_role_does_its_part(store: StoreUrl) {
    let server = TestServer::start(move |s| s.store = store).await;
    // A requester asks; receivers and auditors may not.
    let (status, rita) = request_by(&server, "rita").await;
    assert_eq!(status, StatusCode::CREATED, "{rita}");
    forbidden(&request_by(&server, "rex").await, "requester");
    forbidden(&request_by(&server, "audrey").await, "requester");
    let (status, ada) = request_by(&server, "ada").await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");

    // A requester sees their own request, not another's (404, as for a stranger); an auditor
    // sees both; a receiver has no business with requests.
    let rita_id = rita["id"].as_str().unwrap();
    let ada_id = ada["id"].as_str().unwrap();
    let (status, seen) = call(server.staff(Method::GET, &format!("/v1/requests/{rita_id}"), "rita")).await;
    assert_eq!((status, seen["label"].as_str()), (StatusCode::OK, Some("for rita")));
    is_error(
        &call(server.staff(Method::GET, &format!("/v1/requests/{ada_id}"), "rita")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, _) = call(server.staff(Method::GET, &format!("/v1/requests/{ada_id}"), "audrey")).await;
    assert_eq!(status, StatusCode::OK);
    forbidden(&call(server.staff(Method::GET, &format!("/v1/requests/{rita_id}"), "rex")).await, "requester");

    // The inbox, claims and acknowledgements are a receiver's.
    let (id, _) = server.upload().await;
    for who in ["rita", "audrey"] {
        forbidden(&call(server.staff(Method::GET, "/v1/drops?state=waiting", who)).await, "receiver");
        forbidden(&call(server.staff(Method::POST, &format!("/v1/drops/{id}/claim"), who)).await, "receiver");
        forbidden(&call(server.staff(Method::POST, &format!("/v1/drops/{id}/ack"), who)).await, "receiver");
    }
    let (status, inbox) = call(server.staff(Method::GET, "/v1/drops?state=waiting", "rex")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(inbox["drops"].as_array().unwrap().iter().any(|d| d["id"] == id.as_str()), "{inbox}");
    let (status, claimed) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "rex")).await;
    assert_eq!((status, claimed["claimed_by"].as_str()), (StatusCode::OK, Some("rex")), "{claimed}");
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{id}/ack"), "rex")).await;
    assert_eq!(status, StatusCode::OK);

    // A requester may not look at a drop that answers nobody's request of theirs.
    is_error(
        &call(server.staff(Method::GET, &format!("/v1/drops/{id}"), "rita")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, _) = call(server.staff(Method::GET, &format!("/v1/drops/{id}"), "audrey")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(server.staff(Method::GET, &format!("/v1/drops/{id}/receipt"), "audrey")).await;
    assert_eq!(status, StatusCode::OK);
    // Auditors read; they do not revoke.
    let (other, _) = server.upload().await;
    forbidden(&call(server.staff(Method::DELETE, &format!("/v1/drops/{other}"), "audrey")).await, "receiver");

    // The audit log is an auditor's (and an admin's); each change says who, by which
    // credential, under which role.
    forbidden(&call(server.staff(Method::GET, "/v1/audit", "rex")).await, "auditor");
    forbidden(&call(server.staff(Method::GET, "/v1/audit", "rita")).await, "auditor");
    let (status, page) = call(server.staff(Method::GET, "/v1/audit", "audrey")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events: Vec<Value> = page["entries"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect();
    let find = |kind: &str, drop: Option<&str>| {
        events
            .iter()
            .find(|e| e["kind"] == kind && drop.is_none_or(|d| e["drop_id"] == d))
            .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
            .clone()
    };
    assert_eq!(find("drop.claimed", Some(&id))["credential"], json!({"role": "receiver", "token": "rex"}));
    assert_eq!(find("drop.received", Some(&id))["credential"], json!({"role": "receiver", "token": "rex"}));
    let created: Vec<&Value> = events.iter().filter(|e| e["kind"] == "request.created").collect();
    assert_eq!(created[0]["credential"], json!({"role": "requester", "token": "rita"}));
    // An admin acts under the admin role, which allows everything.
    assert_eq!(created[1]["credential"], json!({"role": "admin", "token": "ada"}));
    // Senders carry no credential.
    assert!(find("drop.created", Some(&id)).get("credential").is_none());
    let (status, _) = call(server.staff(Method::GET, "/v1/audit", "ada")).await;
    assert_eq!(status, StatusCode::OK);

    // The CLI says which role is missing, with the exit code for "not allowed".
    let home = crate::helpers::Home::new();
    let (token, url) = (crate::server_support::staff_token("rita"), server.url.clone());
    let inbox = tokio::task::spawn_blocking(move || {
        home.sealpass_env(&["inbox"], "", &[("SEALPASS_SERVER", &url), ("SEALPASS_STAFF_TOKEN", &token)])
    })
    .await
    .unwrap();
    inbox.expect(6);
    assert!(inbox.stderr.contains("this needs the receiver role (or admin); rita has requester"), "{}", inbox.stderr);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_does_its_part_and_no_more_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    each_role_does_its_part(StoreUrl::Sqlite(dir.path().join("drops.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_does_its_part_and_no_more_on_redis() {
    let redis = Redis::start(false);
    each_role_does_its_part(StoreUrl::Redis(redis.url())).await;
}

async fn requests_cancelled_and_claims_released(store: StoreUrl) {
    let server = TestServer::start(move |s| s.store = store).await;
    let id_of = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let (_, r1) = request_by(&server, "rita").await;
    let (_, r2) = request_by(&server, "rita").await;
    let (_, r3) = request_by(&server, "ada").await;
    let ids = |v: &Value| -> Vec<String> { v["requests"].as_array().unwrap().iter().map(id_of).collect() };
    // Newest first; requests made within one second by id, descending.
    let newest_first = |ids: &[&Value]| -> Vec<String> {
        let mut sorted: Vec<(String, String)> =
            ids.iter().map(|r| (r["created_at"].as_str().unwrap_or_default().to_owned(), id_of(r))).collect();
        sorted.sort();
        sorted.reverse();
        sorted.into_iter().map(|(_, id)| id).collect()
    };

    // A requester lists their own, newest first; an auditor everyone's; a receiver nothing.
    let (status, mine) = call(server.staff(Method::GET, "/v1/requests", "rita")).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let (_, all) = call(server.staff(Method::GET, "/v1/requests", "audrey")).await;
    let listed: Vec<&Value> = all["requests"].as_array().unwrap().iter().collect();
    assert_eq!(ids(&all), newest_first(&listed));
    let mut every = ids(&all);
    every.sort();
    let mut made = vec![id_of(&r1), id_of(&r2), id_of(&r3)];
    made.sort();
    assert_eq!(every, made);
    let theirs: Vec<String> = ids(&all).into_iter().filter(|i| *i != id_of(&r3)).collect();
    assert_eq!(ids(&mine), theirs, "rita's own, in the same order");
    let ada = listed.iter().find(|r| r["id"] == id_of(&r3).as_str()).unwrap();
    assert_eq!((ada["created_by"].as_str(), ada["state"].as_str()), (Some("ada"), Some("open")));
    assert!(r2["created_at"].is_null() && r3["created_at"].is_null(), "201 has no created_at: listing is the way");
    forbidden(&call(server.staff(Method::GET, "/v1/requests", "rex")).await, "requester");
    for (query, code) in [("state=done", "bad_state"), ("limit=0", "bad_limit"), ("cursor=x.y", "bad_cursor")] {
        let answer = call(server.staff(Method::GET, &format!("/v1/requests?{query}"), "audrey")).await;
        is_error(&answer, StatusCode::BAD_REQUEST, code);
    }
    // Page by page.
    let (_, first) = call(server.staff(Method::GET, "/v1/requests?limit=2", "audrey")).await;
    let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
    let (_, second) = call(server.staff(Method::GET, &format!("/v1/requests?limit=2&cursor={cursor}"), "audrey")).await;
    assert_eq!([ids(&first), ids(&second)].concat(), ids(&all));
    assert!(second.get("next_cursor").is_none(), "{second}");

    // Cancel: the requester their own, an admin anyone's; the link dies at once.
    let (r1_id, r3_id) = (id_of(&r1), id_of(&r3));
    is_error(
        &call(server.staff(Method::DELETE, &format!("/v1/requests/{r3_id}"), "rita")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    forbidden(&call(server.staff(Method::DELETE, &format!("/v1/requests/{r1_id}"), "audrey")).await, "requester");
    forbidden(&call(server.staff(Method::DELETE, &format!("/v1/requests/{r1_id}"), "rex")).await, "requester");
    let (status, cancelled) = call(server.staff(Method::DELETE, &format!("/v1/requests/{r1_id}"), "rita")).await;
    assert_eq!((status, cancelled["state"].as_str()), (StatusCode::OK, Some("cancelled")), "{cancelled}");
    let (status, _) = call(server.staff(Method::DELETE, &format!("/v1/requests/{r1_id}"), "rita")).await;
    assert_eq!(status, StatusCode::OK, "cancelling again is the same answer");
    let upload_token = r1["upload_token"].as_str().unwrap();
    let body = json!({"ciphertext": server.ciphertext(), "request_id": r1_id});
    let refused = call(server.req(Method::POST, "/v1/drops").bearer_auth(upload_token).json(&body)).await;
    is_error(&refused, StatusCode::GONE, "cancelled");
    let (_, seen) = call(server.req(Method::GET, &format!("/v1/requests/{r1_id}")).bearer_auth(upload_token)).await;
    assert_eq!(seen["state"], "cancelled", "the sender's page and CLI read it so");
    let (status, _) = call(server.staff(Method::DELETE, &format!("/v1/requests/{r3_id}"), "ada")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, answered) = request_by(&server, "rita").await;
    let answered_id = id_of(&answered);
    let body = json!({"ciphertext": server.ciphertext(), "request_id": answered_id});
    let upload = answered["upload_token"].as_str().unwrap();
    let (status, _) = call(server.req(Method::POST, "/v1/drops").bearer_auth(upload).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED);
    is_error(
        &call(server.staff(Method::DELETE, &format!("/v1/requests/{answered_id}"), "rita")).await,
        StatusCode::CONFLICT,
        "request_fulfilled",
    );
    let (_, gone) = call(server.staff(Method::GET, "/v1/requests?state=cancelled", "audrey")).await;
    let mut gone = ids(&gone);
    gone.sort();
    let mut expected = vec![r3_id.clone(), r1_id.clone()];
    expected.sort();
    assert_eq!(gone, expected);
    let (_, done) = call(server.staff(Method::GET, "/v1/requests?state=fulfilled", "rita")).await;
    assert_eq!(ids(&done), std::slice::from_ref(&answered_id));
    assert_eq!(done["requests"][0]["drop_state"], "waiting");
    // The inbox says who asked.
    let (_, inbox) = call(server.staff(Method::GET, "/v1/drops?state=waiting", "rex")).await;
    let entry = inbox["drops"].as_array().unwrap().iter().find(|d| d["id"] == answered_id.as_str()).unwrap().clone();
    assert_eq!((entry["requested_by"].as_str(), entry["kind"].as_str()), (Some("rita"), Some("salesforce-password")));

    // Release: the claimer their own claim, an admin anyone's; others are refused.
    let (d, manage) = server.upload().await;
    let release = |who: &str| call(server.staff(Method::POST, &format!("/v1/drops/{d}/release"), who));
    is_error(&release("rex").await, StatusCode::CONFLICT, "not_claimed");
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{d}/claim"), "rex")).await;
    assert_eq!(status, StatusCode::OK);
    forbidden(&release("rita").await, "receiver");
    forbidden(&release("audrey").await, "receiver");
    let (status, back) = release("ada").await;
    assert_eq!(
        (status, back["state"].as_str(), back["released_by"].as_str()),
        (StatusCode::OK, Some("waiting"), Some("ada"))
    );
    assert!(back["claimed_by"].is_null(), "{back}");
    // The sender sees it waiting again, and who released it.
    let (_, sender) = call(server.req(Method::GET, &format!("/v1/drops/{d}")).bearer_auth(&manage)).await;
    assert_eq!((sender["state"].as_str(), sender["released_by"].as_str()), (Some("waiting"), Some("ada")));
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{d}/claim"), "bob")).await;
    assert_eq!(status, StatusCode::OK, "someone else may claim it now");
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{d}/release"), "bob")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{d}/claim"), "rex")).await;
    assert_eq!(status, StatusCode::OK);
    let refused = call(server.staff(Method::POST, &format!("/v1/drops/{d}/release"), "rita")).await;
    is_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{d}/release"), "rex").json(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "the claimer releases their own, with an empty body too");
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{d}/claim"), "rex")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(server.staff(Method::POST, &format!("/v1/drops/{d}/ack"), "rex")).await;
    assert_eq!(status, StatusCode::OK);
    is_error(&release("ada").await, StatusCode::GONE, "received");

    // Every one is in the audit log, with the role that allowed it.
    let (_, page) = call(server.staff(Method::GET, "/v1/audit", "audrey")).await;
    let events: Vec<Value> = page["entries"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect();
    let released: Vec<&Value> = events.iter().filter(|e| e["kind"] == "drop.released").collect();
    let by: Vec<(&str, &str)> = released
        .iter()
        .map(|e| (e["actor"]["name"].as_str().unwrap(), e["credential"]["role"].as_str().unwrap()))
        .collect();
    assert_eq!(by, [("ada", "admin"), ("bob", "receiver"), ("rex", "receiver")]);
    let cancels: Vec<&Value> = events.iter().filter(|e| e["kind"] == "request.cancelled").collect();
    assert_eq!(cancels.len(), 2, "cancelling again recorded nothing");
    assert_eq!(cancels[0]["credential"], json!({"role": "requester", "token": "rita"}));
    assert_eq!(cancels[1]["credential"], json!({"role": "admin", "token": "ada"}));
    let metrics = server.metrics().await;
    assert!(metrics.contains("sealpass_drops_released_total 3"), "{metrics}");
    assert!(metrics.contains("sealpass_requests_cancelled_total 2"), "{metrics}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_listed_and_cancelled_and_claims_released_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    requests_cancelled_and_claims_released(StoreUrl::Sqlite(dir.path().join("drops.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_listed_and_cancelled_and_claims_released_on_redis() {
    let redis = Redis::start(false);
    requests_cancelled_and_claims_released(StoreUrl::Redis(redis.url())).await;
}
