//! The Redis backend of `RateLimiter` against a real `redis-server` this test starts
//! on a free loopback port. Limiters built separately (each with its own connection)
//! stand for separate processes; the multi-process runs against the emulator are
//! clerk-cli's `shared_quota` tests.

#![cfg(feature = "redis")]

#[allow(dead_code)] // the CLI's redis-server helper, shared by path; this file uses part of it
#[path = "../../clerk-cli/src/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use clerk_core::SecretKey;
use clerk_layers::rate_limit::{Coordination, Quota, RateLimiter, RedisOptions};
use redis_server::RedisServer;
use tokio::time::{Instant, timeout};

const KEY: &str = "sk_live_TESTSECRET0123";

fn server() -> RedisServer {
    RedisServer::start().unwrap_or_else(|e| panic!("{e}"))
}

fn options(url: &str) -> RedisOptions {
    RedisOptions::new(url, &SecretKey::new(KEY)).unwrap()
}

async fn grants(limiter: &RateLimiter, tasks: usize, each: usize, user: Option<&'static str>) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let limiter = limiter.clone();
        set.spawn(async move {
            for _ in 0..each {
                limiter.acquire(user).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// Two limiters on one Redis take as long as one limiter alone would for the same
/// grants: they share one quota. (A lower bound on time, so a loaded machine cannot
/// make it fail.)
#[tokio::test]
async fn limiters_on_one_redis_share_one_quota() {
    let redis = server();
    let quota = Quota::new(20, Duration::from_secs(1)).unwrap();
    let a = RateLimiter::redis(quota, options(&redis.url()));
    let b = RateLimiter::redis(quota, options(&redis.url()));
    let started = Instant::now();
    tokio::join!(grants(&a, 4, 10, None), grants(&b, 4, 10, None));
    let elapsed = started.elapsed();
    // 80 grants: the burst, then one per period.
    let least = quota.period() * (80 - quota.burst());
    assert!(
        elapsed >= least,
        "80 grants in {elapsed:?}, under {least:?}: the quota was not shared"
    );
    for limiter in [&a, &b] {
        let s = limiter.snapshot();
        assert_eq!(s.coordination, Coordination::Shared, "{s:?}");
        assert_eq!(
            (s.granted, s.failovers, s.fallback_grants),
            (40, 0, 0),
            "{s:?}"
        );
        assert_eq!(s.workers_seen, 2, "{s:?}");
    }
}

/// The per-user quota is shared too: two limiters PATCHing one user draw from one
/// per-user bucket, while the instance quota has plenty of room.
#[tokio::test]
async fn the_per_user_quota_is_shared() {
    let redis = server();
    let per_user = Quota::new(4, Duration::from_secs(1)).unwrap();
    let a = RateLimiter::redis_with_per_user_quota(
        Quota::production(),
        per_user,
        options(&redis.url()),
    );
    let b = RateLimiter::redis_with_per_user_quota(
        Quota::production(),
        per_user,
        options(&redis.url()),
    );
    let started = Instant::now();
    tokio::join!(
        grants(&a, 2, 3, Some("user_hot")),
        grants(&b, 2, 3, Some("user_hot"))
    );
    let least = per_user.period() * (12 - per_user.burst());
    assert!(
        started.elapsed() >= least,
        "{:?} < {least:?}",
        started.elapsed()
    );
    // Another user is not held back by the hot one.
    let started = Instant::now();
    a.acquire(Some("user_cold")).await;
    assert!(
        started.elapsed() < per_user.period(),
        "{:?}",
        started.elapsed()
    );
}

/// One limiter's 429 pauses the other until its Retry-After.
#[tokio::test]
async fn one_worker_s_429_pauses_every_worker() {
    let redis = server();
    let a = RateLimiter::redis(Quota::production(), options(&redis.url()));
    let b = RateLimiter::redis(Quota::production(), options(&redis.url()));
    a.acquire(None).await;
    b.acquire(None).await;
    a.note_rate_limited(Some(Duration::from_secs(2)));
    // The shared cooldown is written in the background: wait until Redis holds it.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*:cooldown")
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no cooldown key written");
        tokio::task::yield_now().await;
    }
    let waited = b.acquire(None).await;
    assert!(waited >= Duration::from_millis(1500), "b waited {waited:?}");
}

/// No key holds the secret key; all sit under the prefix; idle keys expire.
#[tokio::test]
async fn redis_keys_hold_no_secret_and_expire() {
    let redis = server();
    let limiter = RateLimiter::redis(Quota::production(), options(&redis.url()).prefix("tool-a"));
    limiter.acquire(None).await;
    limiter.acquire(Some("user_1")).await;
    limiter.note_rate_limited(Some(Duration::from_secs(1)));
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.len() >= 3, "{keys:?}");
    for key in &keys {
        assert!(key.starts_with("tool-a:{"), "{key}");
        assert!(
            !key.contains("TESTSECRET") && !key.contains("user_1"),
            "{key}"
        );
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0, "{key} never expires");
    }
    let shown = format!("{limiter:?}");
    assert!(
        !shown.contains("TESTSECRET") && !shown.contains("127.0.0.1"),
        "{shown}"
    );
}

/// Redis down: grants continue on the local share (never at the full quota, never
/// stalled), the snapshot says so, and once Redis is back the limiter shares again.
#[tokio::test]
async fn redis_down_falls_back_to_a_share_and_returns() {
    let mut redis = server();
    let port = redis.port();
    let quota = Quota::new(40, Duration::from_secs(1)).unwrap();
    let limiter = RateLimiter::redis(
        quota,
        options(&redis.url())
            .expected_workers(4)
            .timeout(Duration::from_millis(300)),
    );
    limiter.acquire(None).await;
    assert_eq!(limiter.snapshot().coordination, Coordination::Shared);
    redis.kill();

    // 12 grants at a quarter of 40/s (10/s, no burst) take at least 1.1 s, plus the
    // horizon's pause at the failure.
    let started = Instant::now();
    timeout(Duration::from_secs(30), grants(&limiter, 4, 3, None))
        .await
        .expect("the fallback must not stall");
    let share = Quota::new(10, Duration::from_secs(1)).unwrap();
    assert!(
        started.elapsed() >= share.period() * 11,
        "{:?}",
        started.elapsed()
    );
    let s = limiter.snapshot();
    assert_eq!(s.coordination, Coordination::Fallback, "{s:?}");
    assert_eq!((s.failovers, s.fallback_grants), (1, 12), "{s:?}");

    let _redis = RedisServer::start_on(port).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while limiter.snapshot().coordination != Coordination::Shared {
        assert!(Instant::now() < deadline, "{:?}", limiter.snapshot());
        limiter.acquire(None).await;
    }
    let before = limiter.snapshot();
    limiter.acquire(None).await;
    let after = limiter.snapshot();
    assert_eq!(after.fallback_grants, before.fallback_grants, "{after:?}");
    assert_eq!(after.failovers, 1, "{after:?}");
}

/// A Redis that never answered still lets requests through, on the local share.
#[tokio::test]
async fn unreachable_from_the_start_is_survived() {
    // A port bound but never listening: connects are refused, and no other process (a
    // redis-server of a test beside this one) can take the port meanwhile, as it could
    // the port of a server started and killed here.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let limiter = RateLimiter::redis(
        Quota::production(),
        options(&format!("redis://127.0.0.1:{port}/")).timeout(Duration::from_millis(200)),
    );
    timeout(Duration::from_secs(20), limiter.acquire(None))
        .await
        .expect("the fallback must not stall");
    assert_eq!(limiter.snapshot().coordination, Coordination::Fallback);
    drop(reserved);
}
