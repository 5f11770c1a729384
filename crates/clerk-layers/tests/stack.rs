//! The layers composed in the default order (paused time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use clerk_core::{Body, Error};
use clerk_layers::ServiceBuilderExt;
use clerk_layers::concurrency::GlobalConcurrencyLimitLayer;
use clerk_layers::rate_limit::{Quota, RateLimiter};
use clerk_layers::retry::{ExponentialJitter, RetryPolicy};
use http::{Request, Response, StatusCode};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt, service_fn};

fn get(path: &str) -> Request<Body> {
    Request::get(format!("http://127.0.0.1{path}"))
        .body(Body::empty())
        .unwrap()
}

fn policy(first_delay: Duration) -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(10)
        .with_max_delay(Duration::from_secs(60))
        .with_schedule(ExponentialJitter::new(first_delay, 1.0, 0.0).unwrap())
}

#[tokio::test(start_paused = true)]
async fn the_operation_timeout_bounds_every_retry_and_each_attempt_is_charged() {
    let attempts = Arc::new(AtomicU32::new(0));
    let transport = {
        let attempts = attempts.clone();
        service_fn(move |_req: Request<Body>| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                Ok::<_, Error>(response)
            }
        })
    };
    let limiter = RateLimiter::new(Quota::production());
    let client = ServiceBuilder::new()
        .clerk_trace()
        .clerk_operation_timeout(Duration::from_millis(1000))
        .clerk_retry(policy(Duration::from_millis(300)))
        .clerk_trace_attempt()
        .clerk_rate_limit(limiter.clone())
        .clerk_global_concurrency_limit(4)
        .clerk_attempt_timeout(Duration::from_secs(10))
        .service(transport);

    let start = Instant::now();
    let err = client.oneshot(get("/v1/users")).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(start.elapsed(), Duration::from_millis(1000));
    // Attempts at 0, 300, 600 and 900 ms; every one went through the limiter.
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    assert_eq!(limiter.snapshot().granted, 4);
}

#[tokio::test(start_paused = true)]
async fn a_call_sleeping_in_backoff_holds_no_concurrency_permit() {
    let transport = service_fn(|req: Request<Body>| async move {
        let mut response = Response::new(Body::empty());
        if req.uri().path().ends_with("/flaky") {
            *response.status_mut() = StatusCode::BAD_GATEWAY;
        }
        Ok::<_, Error>(response)
    });
    let limit = GlobalConcurrencyLimitLayer::new(1);
    let client = ServiceBuilder::new()
        .clerk_retry(policy(Duration::from_secs(5)).with_max_attempts(2))
        .clerk_rate_limit(RateLimiter::new(Quota::production()))
        .clerk_global_concurrency_limit(limit.clone())
        .clerk_attempt_timeout(Duration::from_secs(10))
        .service(transport);

    let start = Instant::now();
    let flaky = tokio::spawn(client.clone().oneshot(get("/v1/users/flaky")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(limit.in_flight(), 0, "the backoff sleep holds no permit");
    let response = client.clone().oneshot(get("/v1/users/ok")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(start.elapsed(), Duration::from_millis(100));

    let flaky = flaky.await.unwrap().unwrap();
    assert_eq!(flaky.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_times_out_and_is_retried() {
    let attempts = Arc::new(AtomicU32::new(0));
    let transport = {
        let attempts = attempts.clone();
        service_fn(move |_req: Request<Body>| {
            let first = attempts.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                Ok::<_, Error>(Response::new(Body::empty()))
            }
        })
    };
    let client = ServiceBuilder::new()
        .clerk_operation_timeout(Duration::from_secs(60))
        .clerk_retry(policy(Duration::from_millis(100)))
        .clerk_rate_limit(RateLimiter::new(Quota::production()))
        .clerk_attempt_timeout(Duration::from_secs(2))
        .service(transport);
    let start = Instant::now();
    let response = client.oneshot(get("/v1/users/user_1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), Duration::from_millis(2100));
}
