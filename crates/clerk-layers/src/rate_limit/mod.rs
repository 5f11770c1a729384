//! Proactive client-side rate limiting, so a long job runs at Clerk's limit
//! without drawing 429s.
//!
//! One [`RateLimiter`] per Clerk instance (secret key) holds all the state behind
//! an `Arc`; every clone of it and every service a [`RateLimitLayer`] builds from
//! it share that state. Unlike `tower::limit::RateLimit` (per-instance state, not
//! `Clone`) it is safe to clone the service freely.
//!
//! What it does for each request, in order:
//!
//! 1. **Per-user limit.** `PATCH /users/{user_id}` and
//!    `PATCH /users/{user_id}/metadata` are limited by Clerk to 10 per 10 s per
//!    user ([`Quota::per_user`]). The request first waits for its user's quota
//!    (keyed on [`OperationInfo::per_user_limit_key`](clerk_core::OperationInfo),
//!    or on the path of a foreign request), *before* joining the instance-wide
//!    line, so one hot user never stalls the others. Users whose quota has fully
//!    refilled are evicted, so memory stays bounded.
//!    [`RateLimiter::without_per_user_limit`] turns this step off.
//! 2. **Readiness.** The inner service is readied — e.g. a concurrency permit is
//!    taken — before the grant, so the request leaves as soon as it is granted.
//!    When it is ready at once and the quota has room (the common case) the grant
//!    is taken and the request sent in `call`, with no clone of the inner service
//!    and no allocation; otherwise a clone of it waits in the response future.
//! 3. **FIFO line.** Requests take turns through a fair mutex; only the head of the
//!    line sleeps on the limiter, so 64 waiters cost one timer, not 64 polls per
//!    grant, and the p99 wait stays close to the mean. When nobody is in line and
//!    the quota has room, the grant is taken on the spot, without an allocation.
//! 4. **Cooldown.** After a 429 every request waits until its `Retry-After`
//!    (1 s if absent, 30 s at most: [`RateLimiter::with_max_cooldown`]) has
//!    passed: Clerk keeps rejecting until then.
//! 5. **Quota.** A GCRA on `governor`, clocked by tokio's clock (so paused-time
//!    tests are deterministic), with burst and period derived so that no window
//!    of length `W` ever holds more than `N` grants: see [`Quota`].
//!
//! The wait is acquired in `call` or inside the response future (never in
//! `poll_ready`), so a caller that readies the service and never calls it takes
//! nothing, and dropping a waiting future takes nothing either (a future dropped
//! unpolled after an on-the-spot grant wastes that one grant, never more). Each response carries a
//! [`RateLimitWait`] extension (the trace layer above records it as
//! `rate_limit.wait_ms`), and [`RateLimiter::snapshot`] reports grants, waiters,
//! cooldown and 429s.
//!
//! Where it goes, and why: [the default stack](crate#the-default-stack).
//!
//! With the `redis` cargo feature, `RateLimiter::redis` shares the quota, the
//! per-user limit and the cooldown between processes and machines through Redis:
#![cfg_attr(feature = "redis", doc = "see the [`redis`](mod@redis) module.")]
#![cfg_attr(
    not(feature = "redis"),
    doc = "see the `redis` module (built with the feature only)."
)]
//!
//! # Example
//!
//! ```
//! use clerk_core::{Body, Error};
//! use clerk_layers::rate_limit::{Quota, RateLimitLayer, RateLimitWait, RateLimiter};
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let limiter = RateLimiter::new(Quota::development().with_headroom(0.1)?);
//! let service = ServiceBuilder::new()
//!     .layer(RateLimitLayer::new(limiter.clone()))
//!     .service(service_fn(|_req: Request<Body>| async {
//!         Ok::<_, Error>(Response::new(Body::empty()))
//!     }));
//!
//! let response = service
//!     .oneshot(Request::get("http://127.0.0.1/v1/users").body(Body::empty()).unwrap())
//!     .await?;
//! assert!(response.extensions().get::<RateLimitWait>().is_some());
//! assert_eq!(limiter.snapshot().granted, 1);
//! # Ok(())
//! # }
//! ```

mod limiter;
mod quota;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod service;

pub use crate::extensions::RateLimitWait;
pub use limiter::{
    Coordination, DEFAULT_COOLDOWN, DEFAULT_MAX_COOLDOWN, RateLimitSnapshot, RateLimiter,
};
pub use quota::{DEFAULT_WINDOW_MARGIN, MAX_WINDOW, Quota};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisOptions;
pub use service::{RateLimit, RateLimitLayer, ResponseFuture};
