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
