//! The Clerk layers inside a stack of your own, next to tower-http's layers and a
//! hand-written one, driving the sans-IO request types directly.
//!
//! ```text
//! RUST_LOG=tower_http=debug,clerk_layers=debug cargo run --example custom_stack
//! ```
//!
//! Runs against the embedded emulator. The stack, outermost first:
//!
//! - tower-http `TraceLayer` (HTTP-level spans of your own service),
//! - `clerk_operation_timeout` → `clerk_retry` → `clerk_rate_limit` (shared limiter)
//!   → `clerk_attempt_timeout`,
//! - a hand-written `AuditLayer` counting requests per operation,
//! - tower-http `SetRequestHeaderLayer` (a header of yours on every attempt),
//! - `clerk_headers` → `clerk_auth`,
//! - the hyper transport.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use clerk_emulator::{Config, Emulator};
use clerk_tower::layers::ServiceBuilderExt;
use clerk_tower::layers::rate_limit::{Quota, RateLimiter};
use clerk_tower::layers::retry::RetryPolicy;
use clerk_tower::transport::Transport;
use clerk_tower::users::{CreateUser, GetUser, ListUsers};
use clerk_tower::{BaseUrl, Body, ClerkRequest, Error, Operation, OperationInfo, SecretKey};
use http::{HeaderName, HeaderValue};
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_http::set_header::SetRequestHeaderLayer;
use tower_http::trace::TraceLayer;

/// A hand-written layer: counts requests per Clerk operation (from the
/// `OperationInfo` every typed request carries).
#[derive(Clone, Debug, Default)]
struct AuditLayer {
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;

    fn layer(&self, inner: S) -> Audit<S> {
        Audit {
            inner,
            counts: self.counts.clone(),
        }
    }
}

#[derive(Clone, Debug)]
struct Audit<S> {
    inner: S,
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl<S: Service<ClerkRequest>> Service<ClerkRequest> for Audit<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ClerkRequest) -> S::Future {
        let operation = OperationInfo::of(&request).operation_id;
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(operation).or_default() += 1;
        }
        self.inner.call(request)
    }
}

/// Drives one typed operation through any stack whose response body is an
/// `http_body::Body`: build the request, send it, collect the body, parse.
async fn call<S, B, O>(stack: &S, base: &BaseUrl, operation: O) -> Result<O::Output, Error>
where
    S: Service<ClerkRequest, Response = http::Response<B>, Error = Error> + Clone,
    B: http_body::Body,
    B::Error: std::fmt::Display,
    O: Operation,
{
    let request = operation.build_request(base)?;
    let response = stack.clone().oneshot(request).await?;
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| Error::invalid_request(format!("reading the body: {e}")))?
        .to_bytes();
    operation.parse_response(http::Response::from_parts(parts, Body::from(bytes)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let emulator = Emulator::start(Config::new()).await?;
    let base = BaseUrl::parse(&emulator.base_url())?;
    let key = SecretKey::new(clerk_emulator::DEFAULT_SECRET_KEY);
    // One limiter for every service that talks to this Clerk instance.
    let limiter = RateLimiter::new(Quota::for_key(&key));
    let audit = AuditLayer::default();

    let stack = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .clerk_operation_timeout(Duration::from_secs(30))
        .clerk_retry(RetryPolicy::new().with_max_attempts(3))
        .clerk_rate_limit(limiter.clone())
        .clerk_attempt_timeout(Duration::from_secs(5))
        .layer(audit.clone())
        .layer(SetRequestHeaderLayer::overriding(
            HeaderName::from_static("x-request-source"),
            HeaderValue::from_static("custom-stack-example"),
        ))
        .clerk_headers()
        .clerk_auth(key)
        .service(Transport::new()?);

    let user = call(
        &stack,
        &base,
        CreateUser::new().first_name("Grace").last_name("Hopper"),
    )
    .await?;
    println!("created {}", user.id);
    let fetched = call(&stack, &base, GetUser::new(&user.id)).await?;
    println!(
        "fetched {} {:?} {:?}",
        fetched.id, fetched.first_name, fetched.last_name
    );
    let page = call(&stack, &base, ListUsers::new().limit(10)).await?;
    println!("listed {} user(s)", page.len());
    let missing = call(&stack, &base, GetUser::new("user_missing")).await;
    println!(
        "missing user: not found = {}",
        missing.is_err_and(|e| e.is_not_found())
    );

    let snapshot = limiter.snapshot();
    println!(
        "rate limiter: {} grant(s), waited {:?} in all",
        snapshot.granted, snapshot.total_wait
    );
    if let Ok(counts) = audit.counts.lock() {
        println!("audit: {counts:?}");
    }
    emulator.shutdown().await?;
    Ok(())
}
