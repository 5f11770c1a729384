//! Tower layers for the Clerk Backend API: auth, rate limiting, retry, tracing,
//! metrics, timeouts, concurrency.
//!
//! Every layer works on plain [`http::Request`]s and [`http::Response`]s, so it
//! fits any tower stack, not only `clerk-tower`'s. Requests are classified with
//! [`OperationInfo`](clerk_core::OperationInfo) from their extensions, or by
//! method and path when they come from elsewhere. Layers that inspect or produce
//! errors use [`clerk_core::Error`].
//!
//! | module | layer | what for |
//! |---|---|---|
//! | [`trace`] | [`TraceLayer`](trace::TraceLayer) | a span per call and per attempt, OpenTelemetry field names, no secrets |
//! | [`timeout`] | [`TimeoutLayer`](timeout::TimeoutLayer) | per-operation and per-attempt deadlines |
//! | [`retry`] | [`RetryLayer`](retry::RetryLayer) | 429/5xx/connect/timeout retries, create-safe, budgeted |
//! | [`metrics`] | [`MetricsLayer`](metrics::MetricsLayer) | counters of attempts, retries, 429s, 5xx, transport errors, timeouts |
//! | [`rate_limit`] | [`RateLimitLayer`](rate_limit::RateLimitLayer) | Clerk's quota without 429s, FIFO, 429 cooldown, per-user limit |
//! | [`concurrency`] | [`GlobalConcurrencyLimitLayer`](concurrency::GlobalConcurrencyLimitLayer) | a shared cap on requests in flight |
//! | [`auth`] | [`AuthLayer`](auth::AuthLayer), [`ClerkHeadersLayer`](auth::ClerkHeadersLayer) | bearer key (sensitive), API version, user agent |
//!
//! [`ServiceBuilderExt`] adds them to `ServiceBuilder` as `clerk_*` methods.
//!
//! The layers never import each other: what one tells another travels in the
//! response extensions, as the types of [`extensions`] (the trace layer records
//! the [`RateLimitWait`](extensions::RateLimitWait) the rate limiter left there).
//!
//! # The default stack
//!
//! The one place its order is written down: `clerk-tower`'s `ClerkBuilder`
//! assembles exactly this with [`ServiceBuilderExt`], and its docs and the
//! README point here. Outermost first:
//!
//! | | layer | [`ServiceBuilderExt`] | why it sits here |
//! |---|---|---|---|
//! | 1 | trace, per call | [`clerk_trace`](ServiceBuilderExt::clerk_trace) | outermost: its span covers every attempt and every wait |
//! | 2 | operation timeout (60 s) | [`clerk_operation_timeout`](ServiceBuilderExt::clerk_operation_timeout) | outside the retry layer: bounds the whole call, retries and waits included |
//! | 3 | retry | [`clerk_retry`](ServiceBuilderExt::clerk_retry) | everything below runs once per attempt |
//! | 4 | trace, per attempt | [`clerk_trace_attempt`](ServiceBuilderExt::clerk_trace_attempt) | just inside the retry layer: a span per attempt, with the wait the rate limiter leaves on the response |
//! | 5 | metrics | [`clerk_metrics`](ServiceBuilderExt::clerk_metrics) | inside the retry layer: counts every attempt and its outcome |
//! | 6 | rate limit (+ 429 cooldown, per-user limit) | [`clerk_rate_limit`](ServiceBuilderExt::clerk_rate_limit) | inside the retry layer: every attempt is charged and every 429 starts the cooldown |
//! | 7 | concurrency cap (64) | [`clerk_global_concurrency_limit`](ServiceBuilderExt::clerk_global_concurrency_limit) | inside the limiter, which readies it before the grant: a granted request leaves at once, and requests sleeping in a backoff hold no permit |
//! | 8 | attempt timeout (10 s) | [`clerk_attempt_timeout`](ServiceBuilderExt::clerk_attempt_timeout) | inside the limiter and the cap, so waiting for a grant or a permit never times an attempt out; inside the retry layer, so a timed-out attempt is retried |
//! | 9 | your own layers | (`ClerkBuilder::attempt_layer`) | per attempt, above the auth layer, so they never see the key |
//! | 10 | `Clerk-API-Version`, `User-Agent` | [`clerk_headers`](ServiceBuilderExt::clerk_headers) | |
//! | 11 | auth | [`clerk_auth`](ServiceBuilderExt::clerk_auth) | innermost: nothing above holds the key in a request |
//! | | transport | (`clerk_transport::Transport`) | |
//!
//! ```
//! use std::time::Duration;
//! use clerk_core::{Body, Error, SecretKey};
//! use clerk_layers::ServiceBuilderExt;
//! use clerk_layers::metrics::Metrics;
//! use clerk_layers::rate_limit::{Quota, RateLimitWait, RateLimiter};
//! use clerk_layers::retry::RetryPolicy;
//! use clerk_layers::timeout::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OPERATION_TIMEOUT};
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let key = SecretKey::new("sk_test_example");
//! let limiter = RateLimiter::new(Quota::for_key(&key));
//! let metrics = Metrics::default();
//!
//! // Stands in for `clerk_transport`: answers 503 once, then 200.
//! let failures = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(1));
//! let transport = service_fn(move |req: Request<Body>| {
//!     let fail = failures
//!         .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| n.checked_sub(1))
//!         .is_ok();
//!     async move {
//!         assert!(req.headers()[http::header::AUTHORIZATION].is_sensitive());
//!         let mut response = Response::new(Body::from(r#"{"object":"user"}"#));
//!         if fail {
//!             *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
//!         }
//!         Ok::<_, Error>(response)
//!     }
//! });
//!
//! let client = ServiceBuilder::new()
//!     .clerk_trace()
//!     .clerk_operation_timeout(DEFAULT_OPERATION_TIMEOUT)
//!     .clerk_retry(RetryPolicy::new().with_max_delay(Duration::from_millis(10)))
//!     .clerk_trace_attempt()
//!     .clerk_metrics(metrics.clone())
//!     .clerk_rate_limit(limiter.clone())
//!     .clerk_global_concurrency_limit(64)
//!     .clerk_attempt_timeout(DEFAULT_ATTEMPT_TIMEOUT)
//!     .clerk_headers()
//!     .clerk_auth(key)
//!     .service(transport);
//!
//! let request = Request::get("http://127.0.0.1:8080/v1/users/user_1")
//!     .body(Body::empty())
//!     .unwrap();
//! let response = client.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert!(response.extensions().get::<RateLimitWait>().is_some());
//! assert_eq!(limiter.snapshot().granted, 2); // the 503 and the retry
//! assert_eq!(metrics.snapshot().server_errors, 1);
//! # Ok(())
//! # }
//! ```

// docs.rs (nightly) marks the items of optional features.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
mod builder;
pub mod concurrency;
pub mod extensions;
pub mod metrics;
pub mod rate_limit;
pub mod retry;
pub mod timeout;
pub mod trace;

pub use builder::ServiceBuilderExt;
