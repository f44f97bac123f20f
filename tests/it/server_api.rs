//! The HTTP API v1 against a real server and a real SQLite file: every endpoint, every error
//! path, exactly-once claims under concurrency, expiry and the sweeper, limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::server_support::{STAFF, TestServer, call, is_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_health_ready_metrics() {
    let s = TestServer::start(|_| {}).await;
    let (status, info) = call(s.req(Method::GET, "/v1/info")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["recipients"][0], s.recipients[0]);
    let key = info["receipt_key"].as_str().unwrap();
    let none: [&str; 0] = [];
    assert_eq!(info["fingerprint"], sealpass_core::crypto::server_fingerprint(&s.recipients, &none, Some(key)));
    assert_eq!(info["limits"]["max_ciphertext_bytes"], 131072);
    assert_eq!(info["limits"]["default_ttl_seconds"], 72 * 3600);
    assert_eq!(info["anonymous_uploads"], true);
    assert_eq!(call(s.req(Method::GET, "/healthz")).await.0, StatusCode::OK);
    // A person who opens the server's address gets a page that says what it is (issue 19).
    let home = s.req(Method::GET, "/").send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(home.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let text = home.text().await.unwrap();
    assert!(text.contains("A sealpass drop server") && text.contains("sealpass send"), "{text}");
    assert_eq!(call(s.req(Method::GET, "/readyz")).await.0, StatusCode::OK);
    let (id, token) = s.upload().await;
    let metrics = s.metrics().await;
    assert!(metrics.contains("sealpass_drops_created_total 1"), "{metrics}");
    assert!(metrics.contains(r#"route="/v1/drops",method="POST",status="2xx""#));
    assert!(!metrics.contains(&id) && !metrics.contains(&token), "no ids or tokens in metrics");
    // Business volumes are not for anyone who asks.
    is_error(&call(s.req(Method::GET, "/metrics")).await, StatusCode::UNAUTHORIZED, "unauthorized");
    is_error(&call(s.staff(Method::GET, "/metrics", "alice")).await, StatusCode::UNAUTHORIZED, "unauthorized");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_stay_off_the_public_listener_unless_a_token_or_their_own_address_is_configured() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = TestServer::start(|settings| {
        settings.metrics_token_sha256 = None;
        settings.metrics_listen = Some(port);
    })
    .await;
    let (status, body) = call(s.req(Method::GET, "/metrics")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["message"].as_str().unwrap().contains("metrics_listen"), "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        match s.client.get(format!("http://{port}/metrics")).send().await {
            Ok(answer) => break answer.text().await.unwrap(),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(e) => panic!("the metrics listener does not answer: {e}"),
        }
    };
    assert!(text.contains("sealpass_drops_created_total") && text.contains("sealpass_audit_chain_length"), "{text}");
    let other = s.client.get(format!("http://{port}/v1/info")).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "the metrics listener serves metrics and health only");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_life_of_a_drop() {
    let s = TestServer::start(|_| {}).await;
    let (id, manage) = s.upload().await;
    let path = format!("/v1/drops/{id}");

    // The sender sees the state with its manage token; nobody else sees anything.
    let (status, v) = call(s.req(Method::GET, &path).bearer_auth(&manage)).await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("waiting")));
    assert!(v.get("ciphertext").is_none());
    // No token is 401 whatever the id; a wrong one is 404, so neither says whether it exists.
    is_error(&call(s.req(Method::GET, &path)).await, StatusCode::UNAUTHORIZED, "unauthorized");
    is_error(&call(s.req(Method::GET, &path).bearer_auth("wrong")).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(call(s.staff(Method::GET, &path, "alice")).await.0, StatusCode::OK);

    // The inbox lists it for staff only.
    is_error(&call(s.req(Method::GET, "/v1/drops?state=waiting")).await, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, inbox) = call(s.staff(Method::GET, "/v1/drops?state=waiting", "alice")).await;
    assert_eq!(inbox["drops"][0]["id"], id.as_str());
    assert!(inbox["drops"][0]["size"].as_u64().unwrap() > 1000);
    is_error(
        &call(s.staff(Method::GET, "/v1/drops?state=claimed", "alice")).await,
        StatusCode::BAD_REQUEST,
        "bad_state",
    );

    // Claim: staff only; one claimer; the claimer can claim again (a lost response).
    let claim = format!("{path}/claim");
    is_error(&call(s.req(Method::POST, &claim)).await, StatusCode::UNAUTHORIZED, "unauthorized");
    is_error(
        &call(s.req(Method::POST, &claim).bearer_auth("sps_nope")).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let (status, first) = call(s.staff(Method::POST, &claim, "alice")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first["ciphertext"].as_str().unwrap().starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert_eq!(first["claimed_by"], "alice");
    let (_, again) = call(s.staff(Method::POST, &claim, "alice")).await;
    assert_eq!(
        (again["ciphertext"].clone(), again["claimed_at"].clone()),
        (first["ciphertext"].clone(), first["claimed_at"].clone())
    );
    let other = call(s.staff(Method::POST, &claim, "bob")).await;
    is_error(&other, StatusCode::CONFLICT, "already_claimed");
    assert!(other.1["message"].as_str().unwrap().contains("alice"));
    let (_, v) = call(s.req(Method::GET, &path).bearer_auth(&manage)).await;
    assert_eq!((v["state"].as_str(), v["claimed_by"].as_str()), (Some("claimed"), Some("alice")));

    // Acknowledge: the claimer only; then the ciphertext is gone for good.
    let ack = format!("{path}/ack");
    is_error(&call(s.staff(Method::POST, &ack, "bob")).await, StatusCode::CONFLICT, "not_claimed");
    let (status, v) = call(s.staff(Method::POST, &ack, "alice")).await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("received")));
    assert!(v["received_at"].is_string());
    is_error(&call(s.staff(Method::POST, &claim, "alice")).await, StatusCode::GONE, "received");
    is_error(&call(s.req(Method::DELETE, &path).bearer_auth(&manage)).await, StatusCode::CONFLICT, "already_received");
    let (_, v) = call(s.req(Method::GET, &path).bearer_auth(&manage)).await;
    assert_eq!(v["state"], "received");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_with_the_manage_token() {
    let s = TestServer::start(|_| {}).await;
    let (id, manage) = s.upload().await;
    let path = format!("/v1/drops/{id}");
    is_error(&call(s.req(Method::DELETE, &path).bearer_auth("wrong")).await, StatusCode::NOT_FOUND, "not_found");
    let (status, v) = call(s.req(Method::DELETE, &path).bearer_auth(&manage)).await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("revoked")));
    assert_eq!(call(s.req(Method::DELETE, &path).bearer_auth(&manage)).await.0, StatusCode::OK, "idempotent");
    is_error(&call(s.staff(Method::POST, &format!("{path}/claim"), "alice")).await, StatusCode::GONE, "revoked");
    let (id2, _) = s.upload().await;
    let (status, v) = call(s.staff(Method::DELETE, &format!("/v1/drops/{id2}"), "bob")).await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("revoked")), "staff may revoke too");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_stores_nothing() {
    let s = TestServer::start(|_| {}).await;
    let post = |body: String| s.req(Method::POST, "/v1/drops").header("content-type", "application/json").body(body);
    is_error(&call(post("{not json".into())).await, StatusCode::BAD_REQUEST, "bad_json");
    is_error(&call(post(r#"{"ciphertext": 5}"#.into())).await, StatusCode::BAD_REQUEST, "bad_json");
    is_error(&call(post(r#"{"cipher": "x"}"#.into())).await, StatusCode::BAD_REQUEST, "bad_json");
    is_error(&call(post(json!({"ciphertext": "hello"}).to_string())).await, StatusCode::BAD_REQUEST, "not_age");
    let armored = s.ciphertext();
    let truncated: String = armored.lines().take(4).collect::<Vec<_>>().join("\n");
    is_error(&call(post(json!({"ciphertext": truncated}).to_string())).await, StatusCode::BAD_REQUEST, "not_age");
    // A header built to cost its receiver CPU (issue 19): 900 small stanzas in a 127 KB upload.
    let stanza = format!("-> X25519 {}\n{}\n", "A".repeat(43), "B".repeat(43));
    let header = format!("age-encryption.org/v1\n{}--- {}\n", stanza.repeat(900), "C".repeat(43));
    let mut binary = header.into_bytes();
    binary.extend_from_slice(&[0u8; 48]);
    let body = data_encoding::BASE64.encode(&binary);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    let hostile =
        format!("-----BEGIN AGE ENCRYPTED FILE-----\n{}\n-----END AGE ENCRYPTED FILE-----\n", lines.join("\n"));
    assert!(hostile.len() < 131_072, "within the size limit: {}", hostile.len());
    let (status, answer) = call(post(json!({"ciphertext": hostile}).to_string())).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some("not_age")), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("more than 20 recipient stanzas"), "{answer}");
    let binary_in_armor = armored.replace("BEGIN AGE", "BEGIN PGP");
    is_error(&call(post(json!({"ciphertext": binary_in_armor}).to_string())).await, StatusCode::BAD_REQUEST, "not_age");
    let huge = format!("{armored}{}", "A".repeat(140_000));
    is_error(&call(post(json!({"ciphertext": huge}).to_string())).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    is_error(&call(post("x".repeat(400_000))).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    for ttl in [0, 7 * 86_400 + 1] {
        let body = json!({"ciphertext": armored, "ttl_seconds": ttl}).to_string();
        is_error(&call(post(body)).await, StatusCode::BAD_REQUEST, "bad_ttl");
    }
    let (_, inbox) = call(s.staff(Method::GET, "/v1/drops", "alice")).await;
    assert_eq!(inbox["drops"].as_array().unwrap().len(), 0, "nothing stored");

    // Ids: malformed 400, unknown 404; wrong methods 405; unknown paths 404 — all JSON.
    is_error(
        &call(s.staff(Method::POST, "/v1/drops/../../etc/claim", "alice")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    is_error(
        &call(s.staff(Method::POST, "/v1/drops/NOT-AN-ID/claim", "alice")).await,
        StatusCode::BAD_REQUEST,
        "bad_id",
    );
    let unknown = "a".repeat(26);
    is_error(
        &call(s.staff(Method::POST, &format!("/v1/drops/{unknown}/claim"), "alice")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    is_error(
        &call(s.staff(Method::GET, &format!("/v1/drops/{unknown}"), "alice")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    is_error(&call(s.req(Method::PUT, "/v1/drops")).await, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    is_error(
        &call(s.req(Method::GET, &format!("/v1/drops/{unknown}/claim"))).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    is_error(&call(s.req(Method::GET, "/v2/anything")).await, StatusCode::NOT_FOUND, "not_found");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_get_changes_state() {
    let s = TestServer::start(|_| {}).await;
    let (id, manage) = s.upload().await;
    for path in [format!("/d/{id}"), format!("/v1/drops/{id}"), "/v1/drops?state=waiting".into(), format!("/r/{id}")] {
        for _ in 0..3 {
            let response = s.staff(Method::GET, &path, "alice").send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }
    let page = s.req(Method::GET, &format!("/d/{id}")).send().await.unwrap();
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.text().await.unwrap().contains("sealpass receive"));
    let (_, v) = call(s.req(Method::GET, &format!("/v1/drops/{id}")).bearer_auth(&manage)).await;
    assert_eq!(v["state"], "waiting", "still waiting after every GET");
    assert_eq!(call(s.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await.0, StatusCode::OK);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_bind_exactly_one_upload() {
    let s = TestServer::start(|_| {}).await;
    is_error(
        &call(s.req(Method::POST, "/v1/requests").json(&json!({"label": "x", "kind": "generic"}))).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let bad_kind =
        call(s.staff(Method::POST, "/v1/requests", "alice").json(&json!({"label": "x", "kind": "ftp"}))).await;
    is_error(&bad_kind, StatusCode::BAD_REQUEST, "bad_kind");
    is_error(
        &call(s.staff(Method::POST, "/v1/requests", "alice").json(&json!({"label": " ", "kind": "generic"}))).await,
        StatusCode::BAD_REQUEST,
        "bad_label",
    );
    // Over the documented maxLength as sent, though not once trimmed (found by schemathesis).
    let long = format!("\t{}", "*".repeat(200));
    is_error(
        &call(s.staff(Method::POST, "/v1/requests", "alice").json(&json!({"label": long, "kind": "generic"}))).await,
        StatusCode::BAD_REQUEST,
        "bad_label",
    );
    let (status, r) = call(
        s.staff(Method::POST, "/v1/requests", "alice")
            .json(&json!({"label": "Acme Salesforce", "kind": "salesforce-password", "ttl_seconds": 3600})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (rid, token) = (r["id"].as_str().unwrap().to_owned(), r["upload_token"].as_str().unwrap().to_owned());
    let (_, info) = call(s.req(Method::GET, "/v1/info")).await;
    let fingerprint = info["fingerprint"].as_str().unwrap();
    assert_eq!(r["link"], format!("{}/r/{rid}#{token}.{fingerprint}", s.url));

    // The sender reads the request with its token (no drop id); others get nothing.
    let (status, v) = call(s.req(Method::GET, &format!("/v1/requests/{rid}")).bearer_auth(&token)).await;
    assert_eq!(
        (status, v["state"].as_str(), v["kind"].as_str()),
        (StatusCode::OK, Some("open"), Some("salesforce-password"))
    );
    is_error(&call(s.req(Method::GET, &format!("/v1/requests/{rid}"))).await, StatusCode::UNAUTHORIZED, "unauthorized");
    let wrong = s.req(Method::GET, &format!("/v1/requests/{rid}")).bearer_auth("wrong");
    is_error(&call(wrong).await, StatusCode::NOT_FOUND, "not_found");

    let body = json!({"ciphertext": s.ciphertext(), "request_id": rid});
    is_error(&call(s.req(Method::POST, "/v1/drops").json(&body)).await, StatusCode::UNAUTHORIZED, "unauthorized");
    is_error(
        &call(s.req(Method::POST, "/v1/drops").json(&body).bearer_auth("wrong")).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let (status, d) = call(s.req(Method::POST, "/v1/drops").json(&body).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    is_error(
        &call(s.req(Method::POST, "/v1/drops").json(&body).bearer_auth(&token)).await,
        StatusCode::CONFLICT,
        "request_fulfilled",
    );

    let (_, v) = call(s.staff(Method::GET, &format!("/v1/requests/{rid}"), "bob")).await;
    assert_eq!((v["state"].as_str(), v["drop_id"].clone()), (Some("fulfilled"), d["id"].clone()));
    let (_, v) = call(s.req(Method::GET, &format!("/v1/requests/{rid}")).bearer_auth(&token)).await;
    assert!(v.get("drop_id").is_none(), "the drop id is for staff");
    let (_, inbox) = call(s.staff(Method::GET, "/v1/drops", "bob")).await;
    assert_eq!(inbox["drops"][0]["label"], "Acme Salesforce");
    let (_, claimed) =
        call(s.staff(Method::POST, &format!("/v1/drops/{}/claim", d["id"].as_str().unwrap()), "bob")).await;
    assert_eq!(
        (claimed["request_id"].as_str(), claimed["label"].as_str()),
        (Some(rid.as_str()), Some("Acme Salesforce"))
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_uploads_can_be_switched_off() {
    let s = TestServer::start(|c| c.allow_anonymous_uploads = false).await;
    let body = json!({"ciphertext": s.ciphertext()});
    is_error(
        &call(s.req(Method::POST, "/v1/drops").json(&body)).await,
        StatusCode::FORBIDDEN,
        "anonymous_uploads_disabled",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_ttls_expire_and_the_sweeper_wipes_them() {
    let s = TestServer::start(|c| c.sweep_interval = std::time::Duration::from_secs(1)).await;
    let body = json!({"ciphertext": s.ciphertext(), "ttl_seconds": 1});
    let (_, d) = call(s.req(Method::POST, "/v1/drops").json(&body)).await;
    let (id, manage) = (d["id"].as_str().unwrap().to_owned(), d["manage_token"].as_str().unwrap().to_owned());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    is_error(
        &call(s.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await,
        StatusCode::GONE,
        "expired",
    );
    let (_, v) = call(s.req(Method::GET, &format!("/v1/drops/{id}")).bearer_auth(&manage)).await;
    assert_eq!(v["state"], "expired", "the tombstone tells the truth");
    let mut swept = false;
    for _ in 0..30 {
        let metrics = s.metrics().await;
        if metrics.contains("sealpass_drops_expired_total 1") {
            swept = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(swept, "the sweeper ran and counted the expiry");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let s = TestServer::start(|c| c.rate_limits.create_per_minute = 2).await;
    s.upload().await;
    s.upload().await;
    let response = s.req(Method::POST, "/v1/drops").json(&json!({"ciphertext": s.ciphertext()})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_claimer_wins_under_concurrency() {
    let s = TestServer::start(|_| {}).await;
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(s.upload().await.0);
    }
    let mut tasks = Vec::new();
    for id in &ids {
        for name in STAFF {
            let request = s.staff(Method::POST, &format!("/v1/drops/{id}/claim"), name);
            let id = id.clone();
            tasks.push(tokio::spawn(async move { (id, name, call(request).await) }));
        }
    }
    let mut winners = std::collections::HashMap::new();
    let mut conflicts = 0;
    for task in tasks {
        let (id, name, (status, v)) = task.await.unwrap();
        match status {
            StatusCode::OK => {
                assert_eq!(v["claimed_by"], name);
                assert!(winners.insert(id, name).is_none(), "two 200s for one drop");
            }
            StatusCode::CONFLICT => {
                assert_eq!(v["error"], "already_claimed");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(winners.len(), 100);
    assert_eq!(conflicts, 100 * 7);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_request_takes_exactly_one_of_many_concurrent_uploads() {
    let s = TestServer::start(|_| {}).await;
    let (_, r) =
        call(s.staff(Method::POST, "/v1/requests", "alice").json(&json!({"label": "x", "kind": "generic"}))).await;
    let (rid, token) = (r["id"].as_str().unwrap().to_owned(), r["upload_token"].as_str().unwrap().to_owned());
    let body = json!({"ciphertext": s.ciphertext(), "request_id": rid});
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let request = s.req(Method::POST, "/v1/drops").json(&body).bearer_auth(&token);
            tokio::spawn(async move { call(request).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 7, "{statuses:?}");
    let (_, inbox) = call(s.staff(Method::GET, "/v1/drops", "alice")).await;
    assert_eq!(inbox["drops"].as_array().unwrap().len(), 1, "the losers stored nothing");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_expired_unknown_malformed() {
    let s = TestServer::start(|_| {}).await;
    let (_, r) = call(
        s.staff(Method::POST, "/v1/requests", "alice")
            .json(&json!({"label": "x", "kind": "generic", "ttl_seconds": 1})),
    )
    .await;
    let (rid, token) = (r["id"].as_str().unwrap().to_owned(), r["upload_token"].as_str().unwrap().to_owned());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (_, v) = call(s.staff(Method::GET, &format!("/v1/requests/{rid}"), "alice")).await;
    assert_eq!(v["state"], "expired");
    let body = json!({"ciphertext": s.ciphertext(), "request_id": rid});
    is_error(
        &call(s.req(Method::POST, "/v1/drops").json(&body).bearer_auth(&token)).await,
        StatusCode::GONE,
        "expired",
    );
    let unknown = json!({"ciphertext": s.ciphertext(), "request_id": "a".repeat(26)});
    is_error(
        &call(s.req(Method::POST, "/v1/drops").json(&unknown).bearer_auth(&token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let malformed = json!({"ciphertext": s.ciphertext(), "request_id": "nope"});
    is_error(
        &call(s.req(Method::POST, "/v1/drops").json(&malformed).bearer_auth(&token)).await,
        StatusCode::BAD_REQUEST,
        "bad_id",
    );
    is_error(
        &call(s.staff(Method::GET, &format!("/v1/requests/{}", "b".repeat(26)), "alice")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciphertext_limit_claim_rate_limit_and_json_for_malformed_paths() {
    let s = TestServer::start(|c| {
        c.max_ciphertext_bytes = 1024;
        c.rate_limits.claim_per_minute = 1;
    })
    .await;
    let over = call(s.req(Method::POST, "/v1/drops").json(&json!({"ciphertext": s.ciphertext()}))).await;
    is_error(&over, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    assert!(over.1["message"].as_str().unwrap().contains("1024"));
    let unknown = format!("/v1/drops/{}/claim", "a".repeat(26));
    is_error(&call(s.staff(Method::POST, &unknown, "alice")).await, StatusCode::NOT_FOUND, "not_found");
    let limited = s.staff(Method::POST, &unknown, "alice").send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    is_error(&call(s.staff(Method::GET, "/v1/drops/%FF", "alice")).await, StatusCode::BAD_REQUEST, "bad_request");
    is_error(
        &call(s.staff(Method::GET, "/v1/drops?state=waiting&state=x", "alice")).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    s.stop().await;
}

#[tokio::test]
async fn the_openapi_document_is_served_and_the_committed_copy_is_current() {
    let s = TestServer::start(|_| {}).await;
    let (status, served) = call(s.req(Method::GET, "/v1/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served["openapi"], "3.1.0");
    for path in ["/v1/drops", "/v1/drops/{id}/claim", "/v1/requests/{id}", "/v1/info"] {
        assert!(served["paths"][path].is_object(), "{path} is documented");
    }
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap(),
    )
    .unwrap();
    assert!(
        committed == served,
        "docs/openapi.json is out of date: run `cargo run -- serve --print-openapi > docs/openapi.json`"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_policies_are_served_as_the_cli_prints_them() {
    let s = TestServer::start(|_| {}).await;
    let (status, served) = call(s.req(Method::GET, "/v1/policies")).await;
    assert_eq!(status, StatusCode::OK);
    let printed = crate::helpers::sealpass(&["policies", "--json"], "").json();
    assert_eq!(served, printed);
    s.stop().await;
}
