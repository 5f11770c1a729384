//! Retry policy: classification, idempotency, delays, bounds (paused time).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use clerk_core::{Applied, AppliedEarlier, Body, Error};
use clerk_layers::retry::{ExponentialJitter, RetryBudget, RetryLayer, RetryPolicy, TowerBackoff};
use http::{Method, Request, Response, StatusCode};
use tokio::time::Instant;
use tower::{Layer, ServiceExt, service_fn};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Status(u16),
    /// The status as an `Err`, as a stack that maps statuses to errors gives it.
    StatusError(u16),
    Connect,
    Reset,
    Timeout,
    Decode,
    TooLarge,
    Invalid,
    HeldBack,
}

impl Outcome {
    fn produce(self) -> Result<Response<Body>, Error> {
        match self {
            Outcome::Status(code) => {
                let mut response =
                    Response::new(Body::from(r#"{"errors":[{"message":"m","code":"c"}]}"#));
                *response.status_mut() = StatusCode::from_u16(code).unwrap();
                Ok(response)
            }
            Outcome::StatusError(code) => Err(Error::from_response(
                &Outcome::Status(code).produce().expect("a response"),
            )),
            Outcome::Connect => Err(Error::connect("connection refused")),
            Outcome::Reset => Err(Error::transport("connection reset by peer")),
            Outcome::Timeout => Err(Error::timeout(Duration::from_secs(10))),
            Outcome::Decode => Err(Error::decode("bad json", b"{")),
            Outcome::TooLarge => Err(Error::body_too_large(1024)),
            Outcome::Invalid => Err(Error::invalid_request("bad input")),
            Outcome::HeldBack => Err(Error::rate_limited(Duration::from_millis(500))),
        }
    }
}

const ALL: [Outcome; 22] = [
    Outcome::Status(200),
    Outcome::Status(201),
    Outcome::Status(204),
    Outcome::Status(301),
    Outcome::Status(400),
    Outcome::Status(401),
    Outcome::Status(403),
    Outcome::Status(404),
    Outcome::Status(409),
    Outcome::Status(422),
    Outcome::Status(429),
    Outcome::Status(500),
    Outcome::Status(501),
    Outcome::Status(502),
    Outcome::Status(503),
    Outcome::Status(504),
    Outcome::Connect,
    Outcome::Reset,
    Outcome::Timeout,
    Outcome::Decode,
    Outcome::TooLarge,
    Outcome::Invalid,
];

/// `(method, path)` of every kind of operation: reads, deletes, updates, the
/// POST actions that are idempotent, the bulk ones, and the create.
const OPERATIONS: [(&str, &str, bool); 13] = [
    ("GET", "/v1/users", true),
    ("GET", "/v1/users/user_1", true),
    ("GET", "/v1/users/count", true),
    ("PATCH", "/v1/users/user_1", true),
    ("PATCH", "/v1/users/user_1/metadata", true),
    ("DELETE", "/v1/users/user_1", true),
    ("POST", "/v1/users/user_1/ban", true),
    ("POST", "/v1/users/user_1/unlock", true),
    // Each attempt counts toward lockout: not idempotent.
    ("POST", "/v1/users/user_1/verify_password", false),
    // Consumes a backup code: not idempotent.
    ("POST", "/v1/users/user_1/verify_totp", false),
    ("POST", "/v1/users/ban", true),
    ("POST", "/v1/users/unban", true),
    ("POST", "/v1/users", false),
];

fn request(method: &str, path: &str) -> Request<Body> {
    Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(format!("http://127.0.0.1{path}"))
        .body(Body::from(r#"{"password":"hunter2"}"#))
        .unwrap()
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy::new()
        .with_schedule(ExponentialJitter::new(Duration::from_millis(10), 2.0, 0.0).unwrap())
        .with_budget(RetryBudget::new(Duration::from_secs(10), 1000, 1.0).unwrap())
}

/// Runs one call whose attempts answer `script` in order (then 200 forever);
/// returns the result, the number of attempts and their arrival times.
async fn run(
    policy: RetryPolicy,
    req: Request<Body>,
    script: Vec<Outcome>,
) -> (Result<Response<Body>, Error>, u32, Vec<Instant>, Vec<Bytes>) {
    let attempts = Arc::new(AtomicU32::new(0));
    let times = Arc::new(Mutex::new(Vec::new()));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let inner = {
        let (attempts, times, bodies) = (attempts.clone(), times.clone(), bodies.clone());
        service_fn(move |req: Request<Body>| {
            let n = attempts.fetch_add(1, Ordering::SeqCst) as usize;
            times.lock().unwrap().push(Instant::now());
            bodies.lock().unwrap().push(req.body().as_bytes().clone());
            let outcome = script.get(n).copied().unwrap_or(Outcome::Status(200));
            async move { outcome.produce() }
        })
    };
    let result = RetryLayer::new(policy).layer(inner).oneshot(req).await;
    let times = times.lock().unwrap().clone();
    let bodies = bodies.lock().unwrap().clone();
    (result, attempts.load(Ordering::SeqCst), times, bodies)
}

#[tokio::test(start_paused = true)]
async fn classification_table_for_every_operation_kind() {
    let retried_always = |o: Outcome| {
        matches!(
            o,
            Outcome::Status(429) | Outcome::Connect | Outcome::HeldBack
        )
    };
    let ambiguous = |o: Outcome| {
        matches!(
            o,
            Outcome::Status(500 | 502 | 503 | 504) | Outcome::Reset | Outcome::Timeout
        )
    };
    let mut outcomes = ALL.to_vec();
    outcomes.push(Outcome::HeldBack);
    for (method, path, idempotent) in OPERATIONS {
        for outcome in outcomes.iter().copied() {
            let (result, attempts, _, bodies) =
                run(fast_policy(), request(method, path), vec![outcome]).await;
            let case = format!("{method} {path} after {outcome:?}");
            if retried_always(outcome) || (idempotent && ambiguous(outcome)) {
                assert_eq!(attempts, 2, "{case}");
                assert_eq!(result.unwrap().status(), StatusCode::OK, "{case}");
                assert_eq!(bodies[0], bodies[1], "{case}: the retry resends the body");
            } else if ambiguous(outcome) {
                // A create that may have gone through: never resent, and said so.
                assert_eq!(attempts, 1, "{case}");
                let err = result.unwrap_err();
                assert!(err.is_outcome_unknown(), "{case}: {err:?}");
                assert!(err.to_string().contains("outcome unknown"), "{case}");
                if let Outcome::Status(code) = outcome {
                    assert_eq!(err.status().map(|s| s.as_u16()), Some(code), "{case}");
                    assert!(err.has_code("c"), "{case}");
                }
            } else {
                assert_eq!(attempts, 1, "{case}");
                match (outcome, result) {
                    (Outcome::Status(code), Ok(response)) => {
                        assert_eq!(response.status().as_u16(), code, "{case}")
                    }
                    (_, Err(err)) => assert!(!err.is_outcome_unknown(), "{case}"),
                    (_, other) => panic!("{case}: {other:?}"),
                }
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn create_is_never_retried_after_an_ambiguous_failure() {
    // A connect error is safe to retry; the timeout after it is not.
    let (result, attempts, _, _) = run(
        fast_policy(),
        request("POST", "/v1/users"),
        vec![Outcome::Connect, Outcome::Timeout, Outcome::Status(200)],
    )
    .await;
    assert_eq!(attempts, 2);
    let err = result.unwrap_err();
    assert!(err.is_timeout() && err.is_outcome_unknown(), "{err:?}");

    // 503 forever: one attempt only.
    let (result, attempts, _, _) = run(
        fast_policy(),
        request("POST", "/v1/users"),
        vec![Outcome::Status(503); 10],
    )
    .await;
    assert_eq!(attempts, 1);
    assert!(result.unwrap_err().is_outcome_unknown());

    // A 429 refused it: safe to resend.
    let (result, attempts, _, _) = run(
        fast_policy(),
        request("POST", "/v1/users"),
        vec![Outcome::Status(429), Outcome::Status(429)],
    )
    .await;
    assert_eq!(attempts, 3);
    assert_eq!(result.unwrap().status(), StatusCode::OK);
}

fn status_with_retry_after(code: u16, secs: &str) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, secs.parse().unwrap());
    response
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_capped() {
    for (retry_after, capped) in [("5", false), ("30", false), ("31", true), ("3600", true)] {
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let inner = {
            let attempts = attempts.clone();
            let retry_after = retry_after.to_owned();
            service_fn(move |_req: Request<Body>| {
                let mut log = attempts.lock().unwrap();
                log.push(Instant::now());
                let first = log.len() == 1;
                let retry_after = retry_after.clone();
                async move {
                    Ok::<_, Error>(if first {
                        status_with_retry_after(429, &retry_after)
                    } else {
                        Response::new(Body::empty())
                    })
                }
            })
        };
        let policy = RetryPolicy::new().with_max_retry_after(Duration::from_secs(30));
        let start = Instant::now();
        let result = RetryLayer::new(policy)
            .layer(inner)
            .oneshot(request("GET", "/v1/users"))
            .await;
        let attempts = attempts.lock().unwrap().clone();
        let wait = Duration::from_secs(retry_after.parse().unwrap());
        if capped {
            // Fails fast, telling the caller how long Clerk wants it to wait.
            assert_eq!(attempts.len(), 1, "{retry_after}");
            assert_eq!(start.elapsed(), Duration::ZERO);
            let err = result.unwrap_err();
            assert!(err.is_rate_limited(), "{err:?}");
            assert_eq!(err.retry_after(), Some(wait));
        } else {
            assert_eq!(attempts.len(), 2, "{retry_after}");
            assert_eq!(attempts[1] - attempts[0], wait);
            assert_eq!(result.unwrap().status(), StatusCode::OK);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn computed_delays_grow_and_are_capped() {
    let policy = RetryPolicy::new()
        .with_max_attempts(5)
        .with_max_delay(Duration::from_secs(2))
        .with_schedule(ExponentialJitter::new(Duration::from_millis(500), 2.0, 0.0).unwrap());
    let (result, attempts, times, _) = run(
        policy,
        request("GET", "/v1/users/user_1"),
        vec![Outcome::Status(503); 10],
    )
    .await;
    assert_eq!(attempts, 5);
    // Exhausted: the last response is handed back as it is.
    assert_eq!(result.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        gaps,
        [500, 1000, 2000, 2000].map(Duration::from_millis).to_vec()
    );

    // Same with tower's own schedule.
    let policy = RetryPolicy::new().with_max_attempts(4).with_schedule(
        TowerBackoff::new(Duration::from_millis(100), Duration::from_millis(250), 0.0).unwrap(),
    );
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let inner = {
        let attempts = attempts.clone();
        service_fn(move |_req: Request<Body>| {
            attempts.lock().unwrap().push(Instant::now());
            async { Outcome::Reset.produce() }
        })
    };
    let err = RetryLayer::new(policy)
        .layer(inner)
        .oneshot(request("GET", "/v1/users"))
        .await
        .unwrap_err();
    assert!(err.is_transport() && !err.is_outcome_unknown());
    let times = attempts.lock().unwrap().clone();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [100, 200, 250].map(Duration::from_millis).to_vec());
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_budget_stops_retries_across_clones() {
    // Each call deposits 1, each retry costs 2, no floor: one retry per two calls.
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5).unwrap();
    let policy = RetryPolicy::new()
        .with_max_attempts(10)
        .with_max_delay(Duration::from_millis(1))
        .with_budget(budget);
    let attempts = Arc::new(AtomicU32::new(0));
    let inner = {
        let attempts = attempts.clone();
        service_fn(move |_req: Request<Body>| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Outcome::Status(503).produce() }
        })
    };
    let service = RetryLayer::new(policy).layer(inner);
    for _ in 0..20 {
        let response = service
            .clone()
            .oneshot(request("GET", "/v1/users"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let attempts = attempts.load(Ordering::SeqCst);
    // 20 calls + at most 10 retries, instead of 20 × 10 attempts.
    assert!((20..=30).contains(&attempts), "{attempts} attempts");
    assert!(attempts > 20, "the budget allows some retries");
}

#[tokio::test(start_paused = true)]
async fn one_attempt_means_no_retry() {
    let (result, attempts, _, _) = run(
        RetryPolicy::never(),
        request("GET", "/v1/users"),
        vec![Outcome::Status(503)],
    )
    .await;
    assert_eq!(attempts, 1);
    assert_eq!(result.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// Whether the result says "a resend found it gone after an earlier attempt removed it".
fn applied_earlier(result: &Result<Response<Body>, Error>) -> bool {
    match result {
        Ok(response) => {
            let marked = response.extensions().get::<AppliedEarlier>().is_some();
            assert_eq!(
                Error::from_response(response).is_applied_earlier(),
                marked,
                "the error of the response says what its extension says"
            );
            marked
        }
        Err(err) => err.is_applied_earlier(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_404_to_a_resent_delete_after_a_lost_answer_means_the_first_attempt_deleted_it() {
    let removals = [
        "/v1/users/user_1",
        "/v1/users/user_1/passkeys/idn_1",
        "/v1/users/user_1/web3_wallets/idn_2",
        "/v1/users/user_1/external_accounts/eac_3",
        "/v1/users/user_1/trusted_devices/td_4",
    ];
    let lost = [
        Outcome::Reset,
        Outcome::Timeout,
        Outcome::Status(502),
        Outcome::Status(503),
        Outcome::Status(500),
    ];
    for path in removals {
        for first in lost {
            let case = format!("DELETE {path}: {first:?}, then 404");
            let (result, attempts, _, _) = run(
                fast_policy(),
                request("DELETE", path),
                vec![first, Outcome::Status(404)],
            )
            .await;
            assert_eq!(attempts, 2, "{case}");
            assert!(applied_earlier(&result), "{case}");
            let response = result.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{case}: as it came"
            );
            let err = Error::from_response(&response);
            assert!(err.is_not_found(), "{case}");
            assert_eq!(err.applied(), Applied::Yes, "{case}");
        }
    }

    // Any earlier ambiguous attempt counts, even with a provably harmless one after it.
    let (result, attempts, _, _) = run(
        fast_policy(),
        request("DELETE", "/v1/users/user_1"),
        vec![Outcome::Reset, Outcome::Status(429), Outcome::Status(404)],
    )
    .await;
    assert_eq!(attempts, 3);
    assert!(applied_earlier(&result));

    // A stack that hands statuses back as errors gets the mark on the error.
    let (result, _, _, _) = run(
        fast_policy(),
        request("DELETE", "/v1/users/user_1"),
        vec![Outcome::Timeout, Outcome::StatusError(404)],
    )
    .await;
    let err = result.unwrap_err();
    assert!(err.is_applied_earlier() && err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("earlier attempt"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_404_stays_not_found_on_a_first_attempt_after_a_harmless_failure_or_for_other_calls() {
    let not_marked = |case: &str, result: &Result<Response<Body>, Error>| {
        assert!(!applied_earlier(result), "{case}");
        let status = match result {
            Ok(response) => response.status(),
            Err(err) => err.status().unwrap(),
        };
        assert_eq!(status, StatusCode::NOT_FOUND, "{case}");
    };
    // The first attempt: the user did not exist.
    let (result, attempts, _, _) = run(
        fast_policy(),
        request("DELETE", "/v1/users/user_1"),
        vec![Outcome::Status(404)],
    )
    .await;
    assert_eq!(attempts, 1);
    not_marked("404 first", &result);
    let (result, _, _, _) = run(
        fast_policy(),
        request("DELETE", "/v1/users/user_1"),
        vec![Outcome::StatusError(404)],
    )
    .await;
    not_marked("404 error first", &result);

    // Earlier attempts that provably did nothing.
    for first in [Outcome::Connect, Outcome::Status(429), Outcome::HeldBack] {
        let (result, attempts, _, _) = run(
            fast_policy(),
            request("DELETE", "/v1/users/user_1"),
            vec![first, Outcome::Status(404)],
        )
        .await;
        assert_eq!(attempts, 2, "{first:?}");
        not_marked(&format!("{first:?} then 404"), &result);
    }

    // Calls whose 404 names the user, or that remove nothing.
    for (method, path) in [
        ("GET", "/v1/users/user_1"),
        ("PATCH", "/v1/users/user_1"),
        ("POST", "/v1/users/user_1/ban"),
        ("DELETE", "/v1/users/user_1/totp"),
        ("DELETE", "/v1/users/user_1/mfa"),
        ("DELETE", "/v1/users/user_1/backup_code"),
        ("DELETE", "/v1/users/user_1/profile_image"),
    ] {
        let (result, attempts, _, _) = run(
            fast_policy(),
            request(method, path),
            vec![Outcome::Reset, Outcome::Status(404)],
        )
        .await;
        assert_eq!(attempts, 2, "{method} {path}");
        not_marked(&format!("{method} {path}: reset then 404"), &result);
    }
}

/// A caller's own extension, riding along with the operation's.
#[derive(Clone, Debug, PartialEq)]
struct Tag(&'static str);

/// Every attempt of a retried call carries the first attempt's extensions, with a
/// typed operation's [`OperationInfo`] alone (kept apart from the copy) or with
/// another extension of the caller's (kept in the copy), through our retry layer
/// and through tower's `Retry` with the same policy.
#[tokio::test(start_paused = true)]
async fn every_attempt_carries_the_extensions_of_the_first() {
    use clerk_core::{OperationInfo, RetryClass};
    let info = OperationInfo::new("DeleteUser", "/users/{user_id}", RetryClass::Idempotent)
        .with_per_user_limit_key("user_1");
    for tagged in [false, true] {
        for tower_retry in [false, true] {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let inner = {
                let seen = seen.clone();
                service_fn(move |req: Request<Body>| {
                    let mut seen = seen.lock().unwrap();
                    seen.push((
                        req.extensions().get::<OperationInfo>().cloned(),
                        req.extensions().get::<Tag>().cloned(),
                        req.extensions().len(),
                    ));
                    // 503, reset, then 200: the resends follow an ambiguous failure.
                    let outcome = match seen.len() {
                        1 => Outcome::Status(503),
                        2 => Outcome::Reset,
                        _ => Outcome::Status(200),
                    };
                    async move { outcome.produce() }
                })
            };
            let mut req = request("DELETE", "/v1/users/user_1");
            req.extensions_mut().insert(info.clone());
            if tagged {
                req.extensions_mut().insert(Tag("mine"));
            }
            let response = if tower_retry {
                tower::retry::Retry::new(fast_policy(), inner)
                    .oneshot(req)
                    .await
            } else {
                RetryLayer::new(fast_policy())
                    .layer(inner)
                    .oneshot(req)
                    .await
            };
            assert_eq!(response.unwrap().status(), StatusCode::OK);
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 3, "tagged {tagged}, tower {tower_retry}");
            let expected = (
                Some(info.clone()),
                tagged.then_some(Tag("mine")),
                1 + usize::from(tagged),
            );
            for attempt in seen.iter() {
                assert_eq!(attempt, &expected, "tagged {tagged}, tower {tower_retry}");
            }
        }
    }
}
