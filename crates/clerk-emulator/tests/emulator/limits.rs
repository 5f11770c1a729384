//! Clerk's rate limits: sliding window per instance, blocked endpoints, per-user limits.

use std::time::Duration;

use clerk_emulator::{Config, RateLimit};
use http::Method;
use serde_json::json;

use crate::common::Api;

fn fixed(requests: u32, window_ms: u64) -> RateLimit {
    RateLimit::Fixed {
        requests,
        window: Duration::from_millis(window_ms),
    }
}

#[tokio::test]
async fn burst_over_the_limit_gets_429_with_retry_after_and_stays_blocked() {
    let api = Api::start(Config::new().rate_limit(fixed(20, 1000))).await;
    let mut statuses = Vec::new();
    let mut retry_after = Vec::new();
    for _ in 0..25 {
        let r = api.get("/v1/users").await;
        if r.status == 429 {
            retry_after.push(r.headers["retry-after"].to_str().unwrap().to_owned());
            r.err(429, "too_many_requests");
            statuses.push(429);
        } else {
            statuses.push(r.status);
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(&statuses[20..], [429; 5]);
    // Integer seconds, rounded up: the window frees within the next second.
    assert!(retry_after.iter().all(|r| r == "1"), "{retry_after:?}");
    // Control endpoints are never limited nor counted.
    let stats = api.get("/_emulator/stats").await;
    assert_eq!(stats.status, 200);
    let inst = &stats.body["instances"]["sk_test_…ator"];
    assert_eq!(stats.body["rate_limited"], 5);
    assert_eq!(inst["requests"], 25);
    // Rejected requests are not admitted: the busiest window holds exactly the limit.
    assert_eq!(inst["max_window_requests"], 20);
    assert_eq!(
        (inst["limit"].clone(), inst["window_ms"].clone()),
        (json!(20), json!(1000))
    );
    // The endpoint stays blocked until Retry-After has passed, then works again.
    api.get("/v1/users").await.err(429, "too_many_requests");
    tokio::time::sleep(Duration::from_millis(1050)).await;
    api.get("/v1/users").await.ok("GetUserList");
}

#[tokio::test]
async fn a_client_pacing_at_the_limit_gets_no_429() {
    let api = Api::start(Config::new().rate_limit(fixed(20, 1000))).await;
    // 20 per second is one every 50 ms; pace at 60 ms. The ticks keep their schedule
    // (missed ones fire at once), so request i and i + 20 are 1.2 s apart on it: one
    // request has to reach the server 200 ms late to meet the next 20 in a window (at
    // 53 ms a delay of 60 ms was enough).
    let mut tick = tokio::time::interval(Duration::from_millis(60));
    for _ in 0..45 {
        tick.tick().await;
        let r = api.get("/v1/users/count").await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let stats = api.emu.stats();
    assert_eq!(stats.rate_limited, 0);
    let inst = &stats.instances["sk_test_…ator"];
    assert!(
        inst.max_window_requests <= 20 && inst.max_window_requests >= 15,
        "{inst:?}"
    );
}

#[tokio::test]
async fn per_user_limit_on_updates_is_ten_per_ten_seconds() {
    let api = Api::start(Config::new().rate_limit(fixed(1000, 10_000))).await;
    let a = api.create_user(json!({"first_name": "A"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = api.create_user(json!({"first_name": "B"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..10 {
        // Both update endpoints share the user's window.
        if i % 2 == 0 {
            api.patch(
                &format!("/v1/users/{a}"),
                &json!({"first_name": format!("A{i}")}),
            )
            .await
            .ok("UpdateUser");
        } else {
            api.patch(
                &format!("/v1/users/{a}/metadata"),
                &json!({"public_metadata": {"i": i}}),
            )
            .await
            .ok("UpdateUserMetadata");
        }
    }
    let r = api
        .patch(&format!("/v1/users/{a}"), &json!({"first_name": "late"}))
        .await;
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((9..=10).contains(&retry), "{retry}");
    r.err(429, "too_many_requests");
    api.patch(&format!("/v1/users/{a}/metadata"), &json!({}))
        .await
        .err(429, "too_many_requests");
    // The rejected update was not applied; other users and reads are unaffected.
    assert_eq!(
        api.get(&format!("/v1/users/{a}")).await.ok("GetUser")["first_name"],
        "A8"
    );
    api.patch(&format!("/v1/users/{b}"), &json!({"first_name": "fine"}))
        .await
        .ok("UpdateUser");
}

#[tokio::test]
async fn default_limits_follow_the_instance_type_and_off_disables_them() {
    let api = Api::start(
        Config::new()
            .secret_key("sk_test_dev_instance")
            .secret_key("sk_live_prod_instance"),
    )
    .await;
    let stats = api.emu.stats();
    let dev = &stats.instances["sk_test_…ance"];
    let prod = &stats.instances["sk_live_…ance"];
    assert_eq!(
        (dev.limit, dev.window_ms, dev.production),
        (Some(100), 10_000, false)
    );
    assert_eq!(
        (prod.limit, prod.window_ms, prod.production),
        (Some(1000), 10_000, true)
    );
    let mut dev_api = api;
    dev_api.key = "sk_test_dev_instance".into();
    let mut codes = Vec::new();
    for _ in 0..101 {
        codes.push(dev_api.get("/v1/users/count").await.status);
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 100);
    assert_eq!(codes[100], 429);
    // The production instance has its own window.
    dev_api.key = "sk_live_prod_instance".into();
    dev_api.get("/v1/users/count").await.ok("GetUsersCount");

    let off = Api::start(Config::new().rate_limit(RateLimit::Off)).await;
    let u = off.create_user(json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..120 {
        off.get("/v1/users/count").await.ok("GetUsersCount");
    }
    for i in 0..12 {
        off.patch(
            &format!("/v1/users/{u}"),
            &json!({"first_name": format!("n{i}")}),
        )
        .await
        .ok("UpdateUser");
    }
    let s = off.emu.stats();
    assert_eq!(s.rate_limited, 0);
    assert_eq!(s.instances["sk_test_…ator"].limit, None);
    assert_eq!(s.instances["sk_test_…ator"].max_window_requests, 133);
    let r = off.control(Method::GET, "stats", &json!(null)).await;
    assert_eq!(r.body["requests_per_operation"]["GetUsersCount"], 120);
}

#[tokio::test]
async fn absurd_rate_limit_windows_are_refused_at_start() {
    // A window of 2^63 s used to start, then panic (`Instant + Duration` overflow) on every
    // request after the first.
    for (requests, window) in [
        (1, Duration::from_secs(1 << 63)),
        (1, Duration::MAX),
        (1, Duration::ZERO),
        (0, Duration::from_secs(10)),
        (1, Duration::from_millis(86_400_001)),
    ] {
        let err = clerk_emulator::Emulator::start(
            Config::new().rate_limit(RateLimit::Fixed { requests, window }),
        )
        .await
        .expect_err("refused at start");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().starts_with("invalid rate limit"), "{err}");
    }
    // The longest accepted window works, request after request.
    let api = Api::start(Config::new().rate_limit(RateLimit::Fixed {
        requests: 2,
        window: Duration::from_secs(86_400),
    }))
    .await;
    api.get("/v1/users").await.ok("GetUserList");
    api.get("/v1/users").await.ok("GetUserList");
    let r = api.get("/v1/users").await;
    assert_eq!(r.headers["retry-after"], "86400");
    r.err(429, "too_many_requests");
}

#[test]
fn the_binary_refuses_an_absurd_window_with_a_clear_error() {
    use std::io::Read as _;
    let mut child = crate::common::Reaped(
        std::process::Command::new(env!("CARGO_BIN_EXE_clerk-emulator"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "1/9223372036854775808s",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run clerk-emulator"),
    );
    // It must exit by itself; one that starts listening is killed and the test fails.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.0.kill();
            let _ = child.0.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("the window must be between 1ms and 24h"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "must not start listening: {stdout}");
}
