//! The trace layer at TRACE level: useful fields, and never a secret.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_core::{Body, Error, SecretKey};
use clerk_layers::ServiceBuilderExt;
use clerk_layers::rate_limit::{Quota, RateLimitWait, RateLimiter};
use clerk_layers::retry::{ExponentialJitter, RetryPolicy};
use http::{Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

const SECRET: &str = "sk_live_TOPSECRET0123456789";
const PASSWORD: &str = "correct-horse-battery-staple";
const USER_ID: &str = "user_2abcRAWID";

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn trace_output_has_the_fields_and_never_a_secret() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let calls = Arc::new(AtomicU32::new(0));
    let transport = {
        let calls = calls.clone();
        service_fn(move |req: Request<Body>| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            // What a careless transport might log: the body and the auth value.
            tracing::trace!(body = ?req.body(), auth = ?req.headers()[http::header::AUTHORIZATION], "sending");
            let create = req.method() == http::Method::POST;
            async move {
                if create {
                    return Err(Error::transport("connection reset by peer"));
                }
                let mut response = Response::new(Body::from(r#"{"id":"user_2abcRAWID"}"#));
                response
                    .headers_mut()
                    .insert("clerk-trace-id", "trace-42".parse().unwrap());
                if n == 0 {
                    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                }
                Ok::<_, Error>(response)
            }
        })
    };
    let key = SecretKey::new(SECRET);
    let client =
        ServiceBuilder::new()
            .clerk_trace()
            .clerk_operation_timeout(Duration::from_secs(60))
            .clerk_retry(RetryPolicy::new().with_schedule(
                ExponentialJitter::new(Duration::from_millis(10), 2.0, 0.0).unwrap(),
            ))
            .clerk_trace_attempt()
            .clerk_rate_limit(RateLimiter::new(Quota::for_key(&key)))
            .clerk_global_concurrency_limit(4)
            .clerk_attempt_timeout(Duration::from_secs(10))
            .clerk_headers()
            .clerk_auth(key)
            .service(transport);

    let update = Request::patch(format!(
        "http://127.0.0.1:9/v1/users/{USER_ID}?email=a%40b.c"
    ))
    .body(Body::from(format!(r#"{{"password":"{PASSWORD}"}}"#)))
    .unwrap();
    let response = client.clone().oneshot(update).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let create = Request::post("http://127.0.0.1:9/v1/users")
        .body(Body::from(format!(
            r#"{{"email_address":["a@b.c"],"password":"{PASSWORD}"}}"#
        )))
        .unwrap();
    let err = client.oneshot(create).await.unwrap_err();
    assert!(err.is_outcome_unknown());

    let output = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    println!("{output}");
    for secret in [SECRET, "TOPSECRET", PASSWORD, USER_ID, "a@b.c", "a%40b.c"] {
        assert!(!output.contains(secret), "{secret:?} leaked");
    }
    let lower = output.to_lowercase();
    assert!(!lower.contains("authorization"), "Authorization leaked");
    assert!(!lower.contains("bearer"), "the bearer value leaked");

    for expected in [
        "clerk.call",
        "clerk.attempt",
        "clerk.operation=\"UpdateUser\"",
        "http.request.method=\"PATCH\"",
        "url.path=\"/users/{user_id}\"",
        "server.address=\"127.0.0.1\"",
        "http.response.status_code=503",
        "http.response.status_code=200",
        "error.type=\"503\"",
        "clerk.trace_id=\"trace-42\"",
        "attempt=1",
        "attempt=2",
        "attempts=2",
        "rate_limit.wait_ms=",
        "clerk.operation=\"CreateUser\"",
        "error.type=\"transport\"",
        "clerk.outcome_unknown=true",
        "clerk call failed",
    ] {
        assert!(output.contains(expected), "missing {expected:?}");
    }
}

#[tokio::test]
async fn with_the_level_disabled_the_layers_only_forward() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let client = ServiceBuilder::new()
        .clerk_trace()
        .clerk_trace_attempt()
        .service(service_fn(|req: Request<Body>| async move {
            // No call counter was put into the request when nobody listens.
            assert!(req.extensions().is_empty());
            Ok::<_, Error>(Response::new(Body::empty()))
        }));
    let request = Request::get("http://127.0.0.1/v1/users")
        .body(Body::empty())
        .unwrap();
    client.oneshot(request).await.unwrap();
    assert!(buffer.0.lock().unwrap().is_empty());
}

/// The trace layer learns the rate limiter's wait from the response, like
/// tower-http's trace records from the response: any layer below that puts a
/// `RateLimitWait` there is recorded, per attempt and summed on the call.
#[tokio::test(start_paused = true)]
async fn the_wait_is_read_from_the_response_per_attempt_and_summed_per_call() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let calls = Arc::new(AtomicU32::new(0));
    // Stands in for a rate limiter of your own: says each attempt waited 1.5 s.
    let limiter_of_yours = {
        let calls = calls.clone();
        service_fn(move |_req: Request<Body>| {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                let mut response = Response::new(Body::empty());
                if first {
                    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                }
                response
                    .extensions_mut()
                    .insert(RateLimitWait(Duration::from_millis(1500)));
                Ok::<_, Error>(response)
            }
        })
    };
    let client =
        ServiceBuilder::new()
            .clerk_trace()
            .clerk_retry(RetryPolicy::new().with_schedule(
                ExponentialJitter::new(Duration::from_millis(10), 2.0, 0.0).unwrap(),
            ))
            .clerk_trace_attempt()
            .service(limiter_of_yours);
    let request = Request::get("http://127.0.0.1/v1/users/user_1")
        .body(Body::empty())
        .unwrap();
    let response = client.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let output = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // Span-close lines: the attempt spans, then the call span on its own.
    let (attempts, calls): (Vec<&str>, Vec<&str>) = output
        .lines()
        .filter(|line| line.contains(" close time."))
        .partition(|line| line.contains("clerk.attempt{"));
    assert_eq!(attempts.len(), 2, "{output}");
    for attempt in &attempts {
        let attempt = attempt.split("clerk.attempt{").nth(1).unwrap();
        assert!(attempt.contains("rate_limit.wait_ms=1500.0"), "{attempt}");
    }
    assert_eq!(calls.len(), 1, "{output}");
    assert!(
        calls[0].contains("rate_limit.wait_ms=3000.0"),
        "{}",
        calls[0]
    );
}
