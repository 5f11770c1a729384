//! The client against the emulator on 127.0.0.1:0, and against scripted services.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::layers::rate_limit::{DEFAULT_WINDOW_MARGIN, Quota};
use clerk_tower::users::{
    CreateUser, GetUser, ListUsers, SetPasswordCompromised, UpdateUser, UpdateUserMetadata,
    UserFilter, UserOrderBy, UserOrderField,
};
use clerk_tower::{
    ApiVersion, BaseUrl, Body, Clerk, ClerkRequest, ClerkResponse, Error, SecretKey,
};
use futures_util::TryStreamExt;

const KEY: &str = clerk_emulator::DEFAULT_SECRET_KEY;

async fn emulator(config: Config) -> Emulator {
    Emulator::start(config).await.expect("emulator starts")
}

fn client(emu: &Emulator) -> Clerk {
    Clerk::builder()
        .base_url(emu.base_url())
        .secret_key(KEY)
        .no_rate_limit()
        .build()
        .expect("client builds")
}

async fn create_users(clerk: &Clerk, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let user = clerk
            .users()
            .create(
                CreateUser::new()
                    .external_id(format!("{prefix}-{i}"))
                    .first_name(format!("{prefix}{i:03}"))
                    .email_address(format!("{prefix}.{i}@example.com")),
            )
            .await
            .expect("create");
        ids.push(user.id);
    }
    ids
}

#[tokio::test]
async fn list_all_walks_every_page_by_cursor_and_by_offset_keeping_filters() {
    let emu = emulator(Config::new().rate_limit(RateLimit::Off)).await;
    let clerk = client(&emu);
    let wanted: HashSet<String> = create_users(&clerk, "keep", 23).await.into_iter().collect();
    create_users(&clerk, "other", 7).await;
    let filter = UserFilter::new().email_address_query("keep.");

    // Default order (-created_at): cursor paging.
    let by_cursor: Vec<_> = clerk
        .users()
        .list_all(ListUsers::new().filter(filter.clone()).limit(5))
        .try_collect()
        .await
        .expect("cursor walk");
    let ids: Vec<String> = by_cursor.iter().map(|u| u.id.clone()).collect();
    assert_eq!(ids.len(), 23, "every filtered user once");
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), wanted);
    let created: Vec<i64> = by_cursor.iter().map(|u| u.created_at).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // Another order: offset paging, same set, in that order.
    let by_offset: Vec<_> = clerk
        .users()
        .list_all(
            ListUsers::new()
                .filter(filter)
                .limit(4)
                .order_by(UserOrderBy::asc(UserOrderField::FirstName)),
        )
        .try_collect()
        .await
        .expect("offset walk");
    let names: Vec<String> = by_offset
        .iter()
        .filter_map(|u| u.first_name.clone())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(by_offset.len(), 23);

    // Exactly one page's worth: stops after the empty next page, no duplicates.
    let all: Vec<_> = clerk
        .users()
        .list_all(ListUsers::new().limit(10))
        .try_collect()
        .await
        .expect("whole instance");
    assert_eq!(all.len(), 30);
    emu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn default_stack_stays_under_the_emulators_limit() {
    let window = Duration::from_secs(1);
    let emu = emulator(Config::new().rate_limit(RateLimit::Fixed {
        requests: 20,
        window,
    }))
    .await;
    // The margin the limiter allows for arrival jitter on Clerk's 10 s windows: the
    // 2.5 ms default of a 1 s window is less than a loaded machine can delay one
    // request on its way to the server, and the server counts arrivals.
    let quota = Quota::new(20, window)
        .and_then(|q| q.with_window_margin(DEFAULT_WINDOW_MARGIN))
        .expect("quota");
    let clerk = Clerk::builder()
        .base_url(emu.base_url())
        .secret_key(KEY)
        .quota(quota)
        .build()
        .expect("client");
    let user = clerk
        .users()
        .create(CreateUser::new().first_name("Paced"))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let clerk = clerk.clone();
        let id = user.id.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                clerk.users().get(id.as_str()).await.expect("get");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let stats = emu.stats();
    assert_eq!(stats.rate_limited, 0, "no 429 from the server");
    assert_eq!(clerk.metrics().rate_limited, 0);
    assert_eq!(clerk.metrics().calls, 49);
    for instance in stats.instances.values() {
        assert!(instance.max_window_requests <= 20, "{instance:?}");
    }
    emu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn hostile_ids_stay_one_path_segment() {
    let emu = emulator(Config::new().rate_limit(RateLimit::Off)).await;
    let clerk = client(&emu);
    let victim = clerk
        .users()
        .create(CreateUser::new().first_name("Victim"))
        .await
        .expect("create");
    for id in [
        format!("{}/ban", victim.id),
        "../users".to_owned(),
        format!("{}?x#y", victim.id),
    ] {
        let err = clerk
            .users()
            .ban(id.as_str())
            .await
            .expect_err("no such user");
        assert!(err.is_not_found(), "{id}: {err}");
    }
    let after = clerk.users().get(victim.id.as_str()).await.expect("get");
    assert!(!after.banned, "the real user was never banned");
    let empty = clerk.users().get("").await.expect_err("empty id");
    assert!(empty.is_invalid_request());
    emu.shutdown().await.expect("shutdown");
}

/// A stack that answers every list call with the same full page.
fn repeating_page_service(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    ClerkRequest,
    Response = ClerkResponse,
    Error = Error,
    Future = std::future::Ready<Result<ClerkResponse, Error>>,
> + Clone {
    tower::service_fn(move |_request: ClerkRequest| {
        calls.fetch_add(1, Ordering::SeqCst);
        let page = serde_json::json!([
            {"id": "user_a", "object": "user", "created_at": 2, "updated_at": 2},
            {"id": "user_b", "object": "user", "created_at": 1, "updated_at": 1}
        ]);
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(page.to_string()))
            .expect("response");
        std::future::ready(Ok(response))
    })
}

#[tokio::test]
async fn a_page_the_server_repeats_ends_the_stream_with_an_error() {
    let calls = Arc::new(AtomicUsize::new(0));
    let clerk = Clerk::from_service(repeating_page_service(calls.clone()), BaseUrl::default());
    let results: Vec<Result<_, Error>> = clerk
        .users()
        .list_all(ListUsers::new().limit(2))
        .collect_all()
        .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "stops at the repeated page"
    );
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    let last = results.last().expect("an item");
    assert!(
        last.as_ref()
            .is_err_and(|e| e.to_string().contains("already returned"))
    );
}

trait CollectAll: futures_util::Stream + Sized {
    async fn collect_all(self) -> Vec<Self::Item> {
        use futures_util::StreamExt;
        self.collect().await
    }
}
impl<S: futures_util::Stream> CollectAll for S {}

#[test]
fn builder_refuses_plain_http_to_remote_hosts_and_never_shows_the_key() {
    let err = Clerk::builder()
        .secret_key("sk_live_TOPSECRET")
        .base_url("http://api.clerk.com")
        .build()
        .expect_err("plain http to a remote host");
    assert!(err.is_invalid_request());
    assert!(!format!("{err} {err:?}").contains("TOPSECRET"));

    let builder = Clerk::builder().secret_key("sk_live_TOPSECRET");
    assert!(!format!("{builder:?}").contains("TOPSECRET"));
    let key = SecretKey::new("sk_live_TOPSECRET");
    assert!(!format!("{key:?} {key}").contains("TOPSECRET"));
    let request = CreateUser::new()
        .password("hunter2-hunter2")
        .first_name("A");
    assert!(!format!("{request:?}").contains("hunter2"));
    assert!(!format!("{:?}", GetUser::new("user_1")).contains("TOPSECRET"));

    if std::env::var_os(clerk_tower::SECRET_KEY_ENV).is_none() {
        let missing = Clerk::builder().build().expect_err("no key");
        assert!(
            missing.to_string().contains("CLERK_SECRET_KEY"),
            "{missing}"
        );
    }
}

#[tokio::test]
async fn client_debug_never_shows_the_key() {
    let clerk = Clerk::builder()
        .secret_key("sk_test_TOPSECRET")
        .base_url("http://127.0.0.1:9")
        .max_attempts(1)
        .build()
        .expect("client");
    assert!(!format!("{clerk:?}").contains("TOPSECRET"));
    let err = clerk
        .users()
        .get("user_1")
        .await
        .expect_err("nothing listens on port 9");
    assert!(err.is_connect(), "{err}");
    assert!(!format!("{err} {err:?}").contains("TOPSECRET"));
}

#[tokio::test(start_paused = true)]
async fn a_create_cut_by_the_operation_deadline_says_its_outcome_is_unknown() {
    // Each attempt answers only after the whole operation's deadline.
    let slow = tower::service_fn(|_request: ClerkRequest| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<ClerkResponse, Error>(http::Response::new(Body::empty()))
    });
    let clerk = Clerk::builder()
        .secret_key("sk_test_x")
        .base_url("http://127.0.0.1:1")
        .transport(slow)
        .operation_timeout(Duration::from_millis(50))
        .attempt_timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let err = clerk
        .users()
        .create(CreateUser::new().first_name("Maybe"))
        .await
        .expect_err("deadline");
    assert!(err.is_timeout() && err.is_outcome_unknown(), "{err:?}");
    let read = clerk.users().get("user_1").await.expect_err("deadline");
    assert!(read.is_timeout() && !read.is_outcome_unknown(), "{read:?}");
}

#[test]
fn a_key_that_cannot_be_a_header_fails_the_build_not_each_call() {
    let err = Clerk::builder()
        .secret_key("sk_test_bad\u{7f}key")
        .base_url("http://127.0.0.1:1")
        .build()
        .expect_err("control character in the key");
    assert!(err.is_invalid_request(), "{err}");
    assert!(
        !format!("{err} {err:?}").contains("bad"),
        "the key stays out of the error"
    );
}

/// A transport that answers every request with `status`, `headers` and `body`, and counts calls.
fn scripted(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> (
    impl tower::Service<ClerkRequest, Response = ClerkResponse, Error = Error, Future = impl Send>
    + Clone
    + Send
    + Sync
    + 'static,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let service = tower::service_fn(move |_request: ClerkRequest| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut response = http::Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(*name, *value);
            }
            Ok::<ClerkResponse, Error>(
                response
                    .body(Body::from(body.as_bytes().to_vec()))
                    .expect("response"),
            )
        }
    });
    (service, calls)
}

fn scripted_client<T>(
    transport: T,
    builder: impl FnOnce(clerk_tower::ClerkBuilder) -> clerk_tower::ClerkBuilder,
) -> Clerk
where
    T: tower::Service<ClerkRequest, Response = ClerkResponse, Error = Error>
        + Clone
        + Send
        + Sync
        + 'static,
    T::Future: Send + 'static,
{
    builder(
        Clerk::builder()
            .secret_key("sk_test_x")
            .base_url("http://127.0.0.1:1")
            .transport(transport),
    )
    .build()
    .expect("client")
}

#[tokio::test]
async fn a_502_on_a_create_is_outcome_unknown_whatever_the_retry_settings() {
    use clerk_tower::layers::retry::RetryPolicy;
    type Settings = fn(clerk_tower::ClerkBuilder) -> clerk_tower::ClerkBuilder;
    let settings: [(&str, Settings); 3] = [
        ("max_attempts(1)", |b| b.max_attempts(1)),
        ("RetryPolicy::never()", |b| {
            b.retry_policy(RetryPolicy::never())
        }),
        ("default", |b| b),
    ];
    for (name, settings) in settings {
        let (transport, calls) = scripted(502, &[], "<html>Bad Gateway</html>");
        let clerk = scripted_client(transport, settings);
        let err = clerk
            .users()
            .create(CreateUser::new().external_id("e1"))
            .await
            .expect_err("502");
        assert!(err.is_outcome_unknown(), "{name}: {err:?}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(502), "{name}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "{name}: a create is never resent"
        );
    }
}

#[tokio::test]
async fn a_2xx_create_whose_body_cannot_be_read_is_outcome_unknown() {
    for body in [
        r#"{"id":"user_1","object":"us"#,
        "<html>proxy says hi</html>",
        "",
    ] {
        let (transport, _) = scripted(200, &[], body);
        let clerk = scripted_client(transport, |b| b);
        let err = clerk
            .users()
            .create(CreateUser::new().external_id("e1"))
            .await
            .expect_err("undecodable 2xx");
        assert!(
            err.is_decode() && err.is_outcome_unknown(),
            "{body:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_operation_returning_a_user_gets_a_user_or_a_decode_error() {
    let (transport, _) = scripted(200, &[], r#"{"object":"total_count","total_count":3}"#);
    let clerk = scripted_client(transport, |b| b);
    let err = clerk
        .users()
        .create(CreateUser::new().external_id("e1"))
        .await
        .expect_err("a total_count is not a user");
    assert!(err.is_decode() && err.is_outcome_unknown(), "{err:?}");
    let err = clerk.users().get("user_1").await.expect_err("not a user");
    assert!(err.is_decode() && !err.is_outcome_unknown(), "{err:?}");

    let (transport, _) = scripted(200, &[], r#"{"object":"user","id":""}"#);
    let clerk = scripted_client(transport, |b| b);
    assert!(
        clerk
            .users()
            .get("user_1")
            .await
            .expect_err("empty id")
            .is_decode()
    );

    let (transport, _) = scripted(
        200,
        &[],
        r#"[{"object":"user","id":"user_1"},{"object":"organization","id":"org_1"}]"#,
    );
    let clerk = scripted_client(transport, |b| b);
    let err = clerk
        .users()
        .list(ListUsers::new())
        .await
        .expect_err("a list of users holds users");
    assert!(err.is_decode(), "{err:?}");

    let (transport, _) = scripted(
        200,
        &[],
        r#"{"object":"user","id":"user_1","some_new_field":1}"#,
    );
    let clerk = scripted_client(transport, |b| b);
    assert_eq!(
        clerk.users().get("user_1").await.expect("a user").id,
        "user_1"
    );
}

#[tokio::test]
async fn verifications_are_not_retried() {
    for verify_totp in [true, false] {
        let (transport, calls) = scripted(503, &[], "");
        let clerk = scripted_client(transport, |b| b);
        let err = if verify_totp {
            clerk
                .users()
                .verify_totp("user_1", "12345678")
                .await
                .expect_err("503")
        } else {
            clerk
                .users()
                .verify_password("user_1", "hunter2-hunter2")
                .await
                .expect_err("503")
        };
        assert!(err.is_outcome_unknown(), "{err:?}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "verify_totp consumes a backup code, verify_password counts toward lockout"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_huge_retry_after_fails_fast_and_blocks_the_instance_for_the_cap_only() {
    let (transport, calls) = scripted(429, &[("retry-after", "86400")], "");
    let clerk = scripted_client(transport, |b| b.quota(Quota::production()));
    let err = clerk.users().get("user_1").await.expect_err("429");
    assert_eq!(
        err.retry_after(),
        Some(Duration::from_secs(86400)),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let cooldown = clerk
        .rate_limiter()
        .and_then(|l| l.cooldown_remaining())
        .expect("a 429 pauses the instance");
    assert!(
        cooldown <= clerk_tower::layers::rate_limit::DEFAULT_MAX_COOLDOWN,
        "{cooldown:?}"
    );

    let (transport, calls) = scripted(503, &[("retry-after", "86400")], "");
    let clerk = scripted_client(transport, |b| b);
    let err = clerk.users().get("user_1").await.expect_err("503");
    assert_eq!(
        err.retry_after(),
        Some(Duration::from_secs(86400)),
        "{err:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no day-long sleep before a retry"
    );
}

/// Sends 20 metadata updates to one user through a builder's stack (answered
/// in memory) and returns how long they took on tokio's paused clock.
async fn twenty_updates_to_one_user(per_user_limit: bool) -> (Duration, Clerk) {
    let transport = tower::service_fn(|_request: ClerkRequest| async {
        let user = serde_json::json!({"id": "user_hot", "object": "user", "created_at": 1, "updated_at": 1});
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(user.to_string()))
            .expect("response");
        Ok::<ClerkResponse, Error>(response)
    });
    let clerk = Clerk::builder()
        .secret_key("sk_live_x")
        .base_url("http://127.0.0.1:1")
        .transport(transport)
        // An instance quota far above 20 requests, so only the per-user limit can hold them.
        .quota(Quota::new(1_000_000, Duration::from_secs(10)).expect("quota"))
        .per_user_limit(per_user_limit)
        .build()
        .expect("client");
    let started = tokio::time::Instant::now();
    for n in 0..20 {
        let mut patch = serde_json::Map::new();
        patch.insert("n".into(), serde_json::json!(n));
        clerk
            .users()
            .update_metadata(UpdateUserMetadata::new("user_hot").public_metadata(patch))
            .await
            .expect("update");
    }
    (started.elapsed(), clerk)
}

#[tokio::test(start_paused = true)]
async fn per_user_limit_false_lets_20_updates_to_one_user_through_without_waiting() {
    let (elapsed, clerk) = twenty_updates_to_one_user(false).await;
    let limiter = clerk
        .rate_limiter()
        .expect("the instance quota is still on");
    assert!(!limiter.limits_per_user());
    assert!(elapsed < Duration::from_millis(100), "took {elapsed:?}");
    assert_eq!(limiter.snapshot().granted, 20);
    assert_eq!(limiter.snapshot().tracked_users, 0);

    // The default paces them at Clerk's 10 per 10 s per user.
    let (paced, clerk) = twenty_updates_to_one_user(true).await;
    assert!(clerk.rate_limiter().expect("on").limits_per_user());
    assert!(paced >= Duration::from_secs(9), "took {paced:?}");
}

fn meta(value: serde_json::Value) -> clerk_tower::Metadata {
    value.as_object().cloned().expect("object")
}

#[tokio::test]
async fn under_2026_05_12_metadata_on_patch_is_refused_by_the_client_and_the_server() {
    let emu = emulator(Config::new().rate_limit(RateLimit::Off)).await;
    let clerk = Clerk::builder()
        .base_url(emu.base_url())
        .secret_key(KEY)
        .no_rate_limit()
        .api_version(ApiVersion::V2026_05_12)
        .build()
        .expect("client builds");
    assert_eq!(clerk.api_version(), ApiVersion::V2026_05_12);
    let user = clerk
        .users()
        .create(CreateUser::new().first_name("Ada"))
        .await
        .expect("create");
    let sent_before = emu.stats().total_requests;

    // The client refuses before sending, and says what to use instead.
    let err = clerk
        .users()
        .update(UpdateUser::new(&user.id).public_metadata(meta(serde_json::json!({"a": 1}))))
        .await
        .expect_err("refused");
    assert!(err.is_invalid_request(), "{err:?}");
    assert_eq!(err.status(), None, "nothing was sent");
    let message = err.to_string();
    assert!(
        message.contains("update_metadata") && message.contains("replace_metadata"),
        "{message}"
    );
    assert_eq!(
        emu.stats().total_requests,
        sent_before,
        "no request reached the server"
    );

    // The server refuses the same body under that version, with the version
    // header the stack sends.
    let raw = http::Request::patch(format!("{}/users/{}", emu.base_url(), user.id))
        .header("content-type", "application/json")
        .header("clerk-api-version", "2026-05-12")
        .body(Body::from(r#"{"public_metadata":{"a":1}}"#))
        .expect("request");
    let response = tower::ServiceExt::oneshot(clerk.service().clone(), raw)
        .await
        .expect("answered");
    assert_eq!(response.status(), 422);
    let body: serde_json::Value =
        serde_json::from_slice(&response.into_body().into_bytes()).expect("json");
    assert_eq!(body["errors"][0]["code"], "form_param_unknown", "{body}");

    // The rest of PATCH works under that version.
    let renamed = clerk
        .users()
        .update(UpdateUser::new(&user.id).first_name("Augusta"))
        .await
        .expect("update without metadata");
    assert_eq!(renamed.first_name.as_deref(), Some("Augusta"));

    // Under the default version, metadata on PATCH still goes through.
    let default = client(&emu);
    assert_eq!(default.api_version(), ApiVersion::DEFAULT);
    let patched = default
        .users()
        .update(UpdateUser::new(&user.id).private_metadata(meta(serde_json::json!({"b": 2}))))
        .await
        .expect("default version accepts metadata on PATCH");
    assert_eq!(patched.private_metadata, meta(serde_json::json!({"b": 2})));
    emu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn typed_calls_send_the_version_they_were_checked_against() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let recorder = {
        let seen = seen.clone();
        tower::service_fn(move |request: ClerkRequest| {
            let version = request
                .headers()
                .get("clerk-api-version")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            seen.lock().expect("lock").push(version);
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from(r#"{"id":"user_1","object":"user"}"#))
                .expect("response");
            std::future::ready(Ok::<_, Error>(response))
        })
    };
    let clerk = Clerk::from_service(recorder, BaseUrl::default());
    clerk.users().get("user_1").await.expect("get");
    let old = clerk.clone().with_api_version(ApiVersion::V2025_04_10);
    old.users().get("user_1").await.expect("get");
    // 2025-04-10 has no password-compromised operations: refused, not sent.
    let err = old
        .users()
        .set_password_compromised(SetPasswordCompromised::new("user_1"))
        .await
        .expect_err("refused");
    assert!(
        err.is_invalid_request() && err.to_string().contains("2025-11-10"),
        "{err}"
    );
    clerk
        .users()
        .set_password_compromised(SetPasswordCompromised::new("user_1"))
        .await
        .expect("2025-11-10 has it");
    assert_eq!(
        *seen.lock().expect("lock"),
        ["2025-11-10", "2025-04-10", "2025-11-10"]
    );
}

/// Appends entries to the emulator's scripted fault queue (its control API, raw HTTP).
async fn script_faults(emu: &Emulator, next: serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = serde_json::json!({ "next": next }).to_string();
    let mut stream = tokio::net::TcpStream::connect(emu.addr())
        .await
        .expect("connect");
    let request = format!(
        "POST /_emulator/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_delete_whose_answer_was_lost_succeeds_and_says_the_first_attempt_did_it() {
    let emu = emulator(Config::new().rate_limit(RateLimit::Off)).await;
    let clerk = client(&emu);
    let ids = create_users(&clerk, "lost", 2).await;
    // The emulator deletes the user, then drops the connection: the resend gets 404.
    script_faults(
        &emu,
        serde_json::json!([{"kind": "lost_response", "operation": "DeleteUser"}]),
    )
    .await;
    let deleted = clerk
        .users()
        .delete(ids[0].clone())
        .await
        .expect("the user is gone: deleted by the attempt whose answer was lost");
    assert_eq!(
        (
            deleted.object,
            deleted.id.as_deref(),
            deleted.deleted,
            deleted.applied_earlier
        ),
        (
            clerk_tower::models::ObjectType::User,
            Some(ids[0].as_str()),
            true,
            true
        )
    );
    let stats = emu.stats();
    assert_eq!(
        stats.requests_per_operation["DeleteUser"], 2,
        "sent, resent"
    );
    assert_eq!(stats.faults_injected["lost_response"], 1);
    assert!(
        clerk
            .users()
            .get(ids[0].clone())
            .await
            .unwrap_err()
            .is_not_found()
    );

    // An answered delete is not marked.
    let plain = clerk.users().delete(ids[1].clone()).await.expect("delete");
    assert!(plain.deleted && !plain.applied_earlier);

    // A 404 to the first attempt is what it says.
    let err = clerk
        .users()
        .delete(ids[1].clone())
        .await
        .expect_err("already deleted");
    assert!(err.is_not_found() && !err.is_applied_earlier(), "{err:?}");
    emu.shutdown().await.unwrap();
}

/// Answers a canned user after pending once in `poll_ready`; counts its clones; a
/// call it was not readied for (since its last call) fails.
struct Readied {
    clones: Arc<AtomicUsize>,
    ready: bool,
    polled: bool,
}

impl Clone for Readied {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Readied {
            clones: self.clones.clone(),
            ready: false,
            polled: false,
        }
    }
}

impl tower::Service<ClerkRequest> for Readied {
    type Response = ClerkResponse;
    type Error = Error;
    type Future = std::future::Ready<Result<ClerkResponse, Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Error>> {
        // A fresh clone pends once, so concurrent calls ready clones side by side.
        if !self.polled {
            self.polled = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.ready = true;
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: ClerkRequest) -> Self::Future {
        if !std::mem::take(&mut self.ready) {
            return std::future::ready(Err(Error::invalid_request("called without poll_ready")));
        }
        let user =
            serde_json::json!({"id": "user_a", "object": "user", "created_at": 1, "updated_at": 1});
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(user.to_string()))
            .expect("response");
        std::future::ready(Ok(response))
    }
}

#[tokio::test]
async fn calls_reuse_a_readied_clone_of_the_stack_instead_of_cloning_it_each_time() {
    let clones = Arc::new(AtomicUsize::new(0));
    let clerk = Clerk::from_service(
        Readied {
            clones: clones.clone(),
            ready: false,
            polled: false,
        },
        BaseUrl::default(),
    );
    for _ in 0..50 {
        assert_eq!(clerk.users().get("user_a").await.unwrap().id, "user_a");
    }
    assert_eq!(clones.load(Ordering::SeqCst), 1, "one clone for 50 calls");
    // Calls readying at the same time each get a clone of their own, readied
    // before it is called (a clone of the client clones its service too).
    let clients: Vec<Clerk<Readied>> = (0..16).map(|_| clerk.clone()).collect();
    let before = clones.load(Ordering::SeqCst);
    let calls: Vec<_> = clients
        .into_iter()
        .map(|clerk| tokio::spawn(async move { clerk.users().get("user_a").await }))
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().id, "user_a");
    }
    let made = clones.load(Ordering::SeqCst) - before;
    assert!(made <= 16, "{made} clones for 16 calls");
}
