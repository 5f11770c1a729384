//! [`ServiceBuilderExt`]: the Clerk layers as `ServiceBuilder` methods.

use std::time::Duration;

use clerk_core::SecretKey;
use tower::ServiceBuilder;
use tower_layer::Stack;

use crate::auth::{AuthLayer, ClerkHeadersLayer};
use crate::concurrency::GlobalConcurrencyLimitLayer;
use crate::metrics::{Metrics, MetricsLayer};
use crate::rate_limit::{RateLimitLayer, RateLimiter};
use crate::retry::{DelaySchedule, RetryLayer, RetryPolicy};
use crate::timeout::TimeoutLayer;
use crate::trace::TraceLayer;

mod sealed {
    pub trait Sealed<T> {}
}

impl<L> sealed::Sealed<L> for ServiceBuilder<L> {}

/// Adds the Clerk layers to [`ServiceBuilder`], in the style of tower-http's
/// `ServiceBuilderExt`. Sealed: implemented only for `ServiceBuilder`.
///
/// As always with `ServiceBuilder`, a layer added earlier sees the request first
/// (is further out). The order the layers go in, and why, is
/// [the default stack](crate#the-default-stack); pick the ones you need:
///
/// ```
/// use std::time::Duration;
/// use clerk_core::{Body, Error, SecretKey};
/// use clerk_layers::ServiceBuilderExt;
/// use clerk_layers::retry::RetryPolicy;
/// use http::{Request, Response};
/// use tower::{ServiceBuilder, service_fn};
///
/// let service = ServiceBuilder::new()
///     .clerk_retry(RetryPolicy::new())
///     .clerk_attempt_timeout(Duration::from_secs(10))
///     .clerk_headers()
///     .clerk_auth(SecretKey::new("sk_test_example"))
///     .service(service_fn(|_req: Request<Body>| async {
///         Ok::<_, Error>(Response::new(Body::empty()))
///     }));
/// # let _ = service;
/// ```
pub trait ServiceBuilderExt<L>: sealed::Sealed<L> + Sized {
    /// A span per logical call ([`TraceLayer::call`]).
    fn clerk_trace(self) -> ServiceBuilder<Stack<TraceLayer, L>>;

    /// A span per attempt ([`TraceLayer::attempt`]).
    fn clerk_trace_attempt(self) -> ServiceBuilder<Stack<TraceLayer, L>>;

    /// A deadline for the whole call, retries included ([`TimeoutLayer`]).
    fn clerk_operation_timeout(self, timeout: Duration) -> ServiceBuilder<Stack<TimeoutLayer, L>>;

    /// A deadline per attempt ([`TimeoutLayer`]).
    fn clerk_attempt_timeout(self, timeout: Duration) -> ServiceBuilder<Stack<TimeoutLayer, L>>;

    /// Retries with `policy` ([`RetryLayer`]).
    fn clerk_retry<D: DelaySchedule>(
        self,
        policy: RetryPolicy<D>,
    ) -> ServiceBuilder<Stack<RetryLayer<D>, L>>;

    /// Counts each attempt and its outcome into `metrics` ([`MetricsLayer`]).
    fn clerk_metrics(self, metrics: Metrics) -> ServiceBuilder<Stack<MetricsLayer, L>>;

    /// Waits for the shared `limiter` before each attempt ([`RateLimitLayer`]).
    fn clerk_rate_limit(self, limiter: RateLimiter) -> ServiceBuilder<Stack<RateLimitLayer, L>>;

    /// Caps requests in flight, shared by every clone ([`GlobalConcurrencyLimitLayer`];
    /// pass a number or a layer you keep to observe it).
    fn clerk_global_concurrency_limit(
        self,
        limit: impl Into<GlobalConcurrencyLimitLayer>,
    ) -> ServiceBuilder<Stack<GlobalConcurrencyLimitLayer, L>>;

    /// Sets `Authorization: Bearer <key>`, marked sensitive ([`AuthLayer`]).
    fn clerk_auth(self, key: SecretKey) -> ServiceBuilder<Stack<AuthLayer, L>>;

    /// Adds `Clerk-API-Version` and `User-Agent` ([`ClerkHeadersLayer`]).
    fn clerk_headers(self) -> ServiceBuilder<Stack<ClerkHeadersLayer, L>>;
}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    fn clerk_trace(self) -> ServiceBuilder<Stack<TraceLayer, L>> {
        self.layer(TraceLayer::call())
    }

    fn clerk_trace_attempt(self) -> ServiceBuilder<Stack<TraceLayer, L>> {
        self.layer(TraceLayer::attempt())
    }

    fn clerk_operation_timeout(self, timeout: Duration) -> ServiceBuilder<Stack<TimeoutLayer, L>> {
        self.layer(TimeoutLayer::new(timeout))
    }

    fn clerk_attempt_timeout(self, timeout: Duration) -> ServiceBuilder<Stack<TimeoutLayer, L>> {
        self.layer(TimeoutLayer::new(timeout))
    }

    fn clerk_retry<D: DelaySchedule>(
        self,
        policy: RetryPolicy<D>,
    ) -> ServiceBuilder<Stack<RetryLayer<D>, L>> {
        self.layer(RetryLayer::new(policy))
    }

    fn clerk_metrics(self, metrics: Metrics) -> ServiceBuilder<Stack<MetricsLayer, L>> {
        self.layer(MetricsLayer::new(metrics))
    }

    fn clerk_rate_limit(self, limiter: RateLimiter) -> ServiceBuilder<Stack<RateLimitLayer, L>> {
        self.layer(RateLimitLayer::new(limiter))
    }

    fn clerk_global_concurrency_limit(
        self,
        limit: impl Into<GlobalConcurrencyLimitLayer>,
    ) -> ServiceBuilder<Stack<GlobalConcurrencyLimitLayer, L>> {
        self.layer(limit.into())
    }

    fn clerk_auth(self, key: SecretKey) -> ServiceBuilder<Stack<AuthLayer, L>> {
        self.layer(AuthLayer::new(key))
    }

    fn clerk_headers(self) -> ServiceBuilder<Stack<ClerkHeadersLayer, L>> {
        self.layer(ClerkHeadersLayer::new())
    }
}
