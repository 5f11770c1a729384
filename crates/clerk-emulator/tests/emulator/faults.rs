//! Fault injection: what is applied and what is not, scripting, latency, keep-alive, shutdown.

use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, FaultKind, FaultSpec, RateLimit};
use http::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Api, KEY};

async fn script(api: &Api, next: serde_json::Value) {
    let r = api
        .control(Method::POST, "faults", &json!({"next": next}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn lost_response_applies_the_write_and_reset_does_not() {
    let api = Api::unlimited().await;
    script(
        &api,
        json!([{"kind": "lost_response", "operation": "CreateUser"}]),
    )
    .await;
    // Reads are not affected by an entry scoped to CreateUser.
    api.get("/v1/users/count").await.ok("GetUsersCount");
    let lost = api
        .send(api.request(
            Method::POST,
            "/v1/users",
            Some(&json!({"external_id": "lost-1"})),
        ))
        .await;
    assert!(lost.is_err(), "no response expected: {lost:?}");
    let found = api
        .get("/v1/users?external_id=lost-1")
        .await
        .ok("GetUserList");
    assert_eq!(
        found.as_array().map(Vec::len),
        Some(1),
        "lost_response must apply the write"
    );

    script(&api, json!([{"kind": "reset"}])).await;
    let reset = api
        .send(api.request(
            Method::POST,
            "/v1/users",
            Some(&json!({"external_id": "reset-1"})),
        ))
        .await;
    assert!(reset.is_err(), "no response expected: {reset:?}");
    let count = api
        .get("/v1/users/count?external_id=reset-1")
        .await
        .ok("GetUsersCount");
    assert_eq!(count["total_count"], 0, "reset must not apply the write");

    let stats = api.emu.stats();
    assert_eq!(stats.faults_injected["lost_response"], 1);
    assert_eq!(stats.faults_injected["reset"], 1);
    assert_eq!(stats.requests_per_operation["CreateUser"], 2);
}

#[tokio::test]
async fn scripted_5xx_and_429_are_clerk_errors_and_not_applied() {
    let api = Api::unlimited().await;
    script(
        &api,
        json!([{"kind": "5xx", "status": 503}, {"kind": "5xx", "status": 502}, {"kind": "none"}, {"kind": "5xx"}, {"kind": "429", "retry_after": 7}]),
    )
    .await;
    let body = json!({"external_id": "x"});
    api.post("/v1/users", &body)
        .await
        .err(503, "service_unavailable");
    api.post("/v1/users", &body).await.err(502, "bad_gateway");
    api.post("/v1/users", &body).await.ok("CreateUser");
    api.post("/v1/users", &body)
        .await
        .err(503, "service_unavailable");
    let r = api.post("/v1/users", &body).await;
    assert_eq!(r.headers["retry-after"], "7");
    r.err(429, "too_many_requests");
    assert_eq!(
        api.get("/v1/users/count").await.ok("GetUsersCount")["total_count"],
        1
    );
    let faults = api.get("/_emulator/faults").await.body;
    assert_eq!(faults["next"], json!([]));
    let stats = api.get("/_emulator/stats").await.body;
    assert_eq!(stats["faults_injected"]["5xx"], 3);
    assert_eq!(stats["faults_injected"]["429"], 1);
    assert_eq!(stats["responses_per_status"]["503"], 2);
    assert_eq!(
        stats["rate_limited"], 0,
        "spurious 429s are faults, not limiter answers"
    );
}

#[tokio::test]
async fn probabilities_latency_and_the_control_api() {
    let api = Api::unlimited().await;
    api.emu
        .set_faults(FaultSpec::none().with(FaultKind::Reset, 1.0).unwrap());
    assert!(
        api.send(api.request(Method::GET, "/v1/users", None))
            .await
            .is_err()
    );
    // Control endpoints are never faulted.
    assert_eq!(api.get("/_emulator/health").await.status, 200);
    api.emu.set_faults(FaultSpec::none());
    api.get("/v1/users").await.ok("GetUserList");

    let r = api
        .control(
            Method::POST,
            "faults",
            &json!({"spec": "5xx=1", "latency_ms": {"min": 150, "max": 150}}),
        )
        .await;
    assert_eq!(r.body["probabilities"]["5xx"], 1.0);
    let t = Instant::now();
    let r = api.get("/v1/users").await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert!([500, 502, 503].contains(&r.status), "{}", r.status);
    let r = api
        .control(
            Method::POST,
            "faults",
            &json!({"5xx": 0, "latency_ms": null}),
        )
        .await;
    assert_eq!(r.body["spec"], "none");
    api.get("/v1/users").await.ok("GetUserList");

    for bad in [
        json!({"spec": "boom=1"}),
        json!({"reset": 2}),
        json!({"reset": "x"}),
        json!({"next": [{"kind": "explode"}]}),
        json!({"next": [{"kind": "5xx", "status": 404}]}),
        json!({"latency_ms": {"min": 5}}),
        json!({"unknown": 1}),
    ] {
        let r = api.control(Method::POST, "faults", &bad).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    let cleared = api.control(Method::DELETE, "faults", &json!(null)).await;
    assert_eq!(cleared.body["next"], json!([]));
    "reset=0.5,5xx=0.6".parse::<FaultSpec>().unwrap_err();
}

async fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    // Reads one response with a Content-Length body (or nothing on EOF).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn keep_alive_serves_many_requests_and_reset_closes_the_connection() {
    let api = Api::unlimited().await;
    let mut s = TcpStream::connect(api.emu.addr()).await.unwrap();
    let req =
        format!("GET /v1/users/count HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n");
    for _ in 0..3 {
        s.write_all(req.as_bytes()).await.unwrap();
        let res = read_response(&mut s).await;
        assert!(
            res.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&res)
        );
    }
    script(&api, json!([{"kind": "reset"}])).await;
    s.write_all(req.as_bytes()).await.unwrap();
    let res = read_response(&mut s).await;
    assert!(
        res.is_empty(),
        "expected a closed connection, got {}",
        String::from_utf8_lossy(&res)
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let emu = Emulator::start(
        Config::new()
            .rate_limit(RateLimit::Off)
            .latency(Duration::from_millis(300), Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let addr = emu.addr();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET /v1/users/count HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let in_flight = tokio::spawn(async move { read_response(&mut s).await });
    // Shut down once the server holds the request (it then sleeps 300 ms inside).
    while emu.stats().total_requests == 0 {
        tokio::task::yield_now().await;
    }
    emu.shutdown().await.unwrap();
    let res = in_flight.await.unwrap();
    assert!(
        res.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&res)
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listener must be closed"
    );
}

#[tokio::test]
async fn reset_clears_data_counters_and_windows_but_keeps_fault_settings() {
    let api = Api::start(Config::new().rate_limit(RateLimit::Fixed {
        requests: 5,
        window: Duration::from_secs(60),
    }))
    .await;
    for i in 0..5 {
        api.create_user(json!({"external_id": format!("r{i}")}))
            .await;
    }
    api.get("/v1/users").await.err(429, "too_many_requests");
    api.control(
        Method::POST,
        "faults",
        &json!({"latency_ms": {"min": 1, "max": 1}}),
    )
    .await;
    let r = api.control(Method::POST, "reset", &json!(null)).await;
    assert_eq!(r.status, 200);
    let stats = api.emu.stats();
    assert_eq!((stats.total_requests, stats.rate_limited), (0, 0));
    assert_eq!(stats.instances["sk_test_…ator"].users, 0);
    assert_eq!(stats.instances["sk_test_…ator"].max_window_requests, 0);
    // The window and the block are gone with the data.
    assert_eq!(
        api.get("/v1/users/count").await.ok("GetUsersCount")["total_count"],
        0
    );
    assert_eq!(
        api.get("/_emulator/faults").await.body["latency_ms"],
        json!({"min": 1, "max": 1})
    );
}

#[tokio::test]
async fn slow_apply_lands_after_the_client_has_given_up() {
    let api = Api::unlimited().await;
    script(
        &api,
        json!([{"kind": "slow_apply", "delay_ms": 2000, "operation": "CreateUser"}]),
    )
    .await;
    // The client gives up after 200 ms, as an attempt timeout would. The write lands
    // 2 s after it arrived: the lookup just after the give-up has 1.8 s to find
    // nothing, even on a loaded machine (with 600 ms it had 0.4 s).
    let given_up = tokio::time::timeout(
        Duration::from_millis(200),
        api.send(api.request(
            Method::POST,
            "/v1/users",
            Some(&json!({"external_id": "late-1"})),
        )),
    )
    .await;
    assert!(
        given_up.is_err(),
        "the answer must come after the client's timeout"
    );
    assert_eq!(
        count(&api, "late-1").await,
        0,
        "not applied yet: a lookup now finds nothing"
    );
    // Poll (bounded) until the held request lands.
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&api, "late-1").await == 0 {
        assert!(
            Instant::now() < deadline,
            "slow_apply never applied the write"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&api, "late-1").await, 1);
    assert_eq!(api.emu.stats().faults_injected["slow_apply"], 1);
}

#[tokio::test]
async fn bad_body_applies_the_write_and_garbles_the_2xx() {
    let api = Api::unlimited().await;
    script(
        &api,
        json!([{"kind": "bad_body", "body": "truncated", "operation": "CreateUser"}, {"kind": "bad_body", "body": "html", "operation": "CreateUser"}]),
    )
    .await;
    for (i, html) in [(1, false), (2, true)] {
        let r = api
            .send(api.request(
                Method::POST,
                "/v1/users",
                Some(&json!({"external_id": format!("garbled-{i}")})),
            ))
            .await
            .expect("an answer");
        assert_eq!(r.status, 200);
        assert!(
            serde_json::from_slice::<Value>(&r.raw).is_err(),
            "{:?}",
            r.raw
        );
        assert_eq!(
            r.raw.starts_with(b"<html>"),
            html,
            "{}",
            String::from_utf8_lossy(&r.raw)
        );
        let count = api
            .get(&format!("/v1/users/count?external_id=garbled-{i}"))
            .await
            .ok("GetUsersCount");
        assert_eq!(count["total_count"], 1, "bad_body must apply the write");
    }
}

#[tokio::test]
async fn wrong_object_answers_200_with_a_total_count_and_applies_nothing() {
    let api = Api::unlimited().await;
    script(
        &api,
        json!([{"kind": "wrong_object", "operation": "CreateUser"}]),
    )
    .await;
    let r = api
        .send(api.request(
            Method::POST,
            "/v1/users",
            Some(&json!({"external_id": "misrouted-1"})),
        ))
        .await
        .expect("an answer");
    assert_eq!(
        (r.status, r.body["object"].as_str()),
        (200, Some("total_count"))
    );
    let count = api
        .get("/v1/users/count?external_id=misrouted-1")
        .await
        .ok("GetUsersCount");
    assert_eq!(count["total_count"], 0);
    let spec: FaultSpec = "slow_apply=0.1,bad_body=0.1,wrong_object=0.1,slow_apply_ms=700"
        .parse()
        .expect("spec");
    assert_eq!(spec.probability(FaultKind::SlowApply), 0.1);
    assert_eq!(spec.slow_apply_delay(), Duration::from_millis(700));
    assert_eq!(
        spec.to_string().parse::<FaultSpec>().expect("round trip"),
        spec
    );
}

async fn count(api: &Api, external_id: &str) -> Value {
    api.get(&format!("/v1/users/count?external_id={external_id}"))
        .await
        .ok("GetUsersCount")["total_count"]
        .clone()
}
