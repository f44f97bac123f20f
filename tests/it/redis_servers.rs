//! Scale-out: several servers sharing one real Redis. Upload through one, claim through another;
//! exactly one winner across servers; a Redis restart (AOF) loses nothing acknowledged; Redis
//! down means 503 and the servers recover by themselves.

use reqwest::{Method, StatusCode};
use sealpass_server::config::StoreUrl;

use crate::redis_support::Redis;
use crate::server_support::{STAFF, TestServer, call, is_error};

async fn two_servers(redis: &Redis) -> (TestServer, TestServer) {
    let url = redis.url();
    let a = TestServer::start(|c| c.store = StoreUrl::Redis(url.clone())).await;
    let b = TestServer::start(|c| c.store = StoreUrl::Redis(url.clone())).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_through_one_server_claim_through_the_other() {
    let redis = Redis::start(false);
    let (a, b) = two_servers(&redis).await;
    let (id, manage) = a.upload().await;
    let (_, inbox) = call(b.staff(Method::GET, "/v1/drops", "alice")).await;
    assert_eq!(inbox["drops"][0]["id"], id.as_str());
    let (status, claimed) = call(b.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    is_error(
        &call(a.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "bob")).await,
        StatusCode::CONFLICT,
        "already_claimed",
    );
    assert_eq!(call(a.staff(Method::POST, &format!("/v1/drops/{id}/ack"), "alice")).await.0, StatusCode::OK);
    let (_, v) = call(b.req(Method::GET, &format!("/v1/drops/{id}")).bearer_auth(&manage)).await;
    assert_eq!((v["state"].as_str(), v["claimed_by"].as_str()), (Some("received"), Some("alice")));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_winner_across_servers() {
    let redis = Redis::start(false);
    let (a, b) = two_servers(&redis).await;
    let mut ids = Vec::new();
    for n in 0..100 {
        ids.push(if n % 2 == 0 { a.upload().await.0 } else { b.upload().await.0 });
    }
    let mut tasks = Vec::new();
    for id in &ids {
        for (i, name) in STAFF.iter().enumerate() {
            let server = if i % 2 == 0 { &a } else { &b };
            let request = server.staff(Method::POST, &format!("/v1/drops/{id}/claim"), name);
            let id = id.clone();
            tasks.push(tokio::spawn(async move { (id, call(request).await.0) }));
        }
    }
    let mut winners = std::collections::HashMap::<String, usize>::new();
    for t in tasks {
        let (id, status) = t.await.unwrap();
        match status {
            StatusCode::OK => *winners.entry(id).or_default() += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 100);
    assert!(winners.values().all(|n| *n == 1), "exactly one winner each");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_with_aof_loses_nothing_acknowledged() {
    let mut redis = Redis::start(true);
    let (a, b) = two_servers(&redis).await;
    let mut uploaded = Vec::new();
    for _ in 0..20 {
        uploaded.push(a.upload().await.0);
    }
    redis.restart();
    for id in &uploaded {
        let mut status = StatusCode::SERVICE_UNAVAILABLE;
        for _ in 0..50 {
            status = call(b.staff(Method::POST, &format!("/v1/drops/{id}/claim"), "alice")).await.0;
            if status != StatusCode::SERVICE_UNAVAILABLE {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(status, StatusCode::OK, "{id} was lost");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_is_503_and_the_server_recovers() {
    let mut redis = Redis::start(false);
    let (a, b) = two_servers(&redis).await;
    a.upload().await;
    redis.kill();
    let answer = call(a.req(Method::POST, "/v1/drops").json(&serde_json::json!({"ciphertext": a.ciphertext()}))).await;
    is_error(&answer, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    assert!(answer.1["message"].as_str().unwrap().contains("retry"));
    assert_eq!(call(a.req(Method::GET, "/readyz")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(call(a.req(Method::GET, "/healthz")).await.0, StatusCode::OK, "alive, just not ready");
    redis.restart();
    for server in [&a, &b] {
        let mut ready = false;
        for _ in 0..50 {
            if call(server.req(Method::GET, "/readyz")).await.0 == StatusCode::OK {
                ready = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(ready, "recovered without a restart");
        server.upload().await;
    }
    a.stop().await;
    b.stop().await;
}
