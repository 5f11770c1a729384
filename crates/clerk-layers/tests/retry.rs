//! Retry policy: classification, idempotency, delays, bounds (paused time).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use clerk_core::{Body, Error};
use clerk_layers::retry::{ExponentialJitter, RetryBudget, RetryLayer, RetryPolicy, TowerBackoff};
use http::{Method, Request, Response, StatusCode};
use tokio::time::Instant;
use tower::{Layer, ServiceExt, service_fn};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Status(u16),
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
