//! Counters of what a client did: calls, attempts, retries, 429s, 5xx,
//! transport errors and timeouts.
//!
//! [`Metrics`] is the handle on the counters: cheap to clone, every clone and
//! every service a [`MetricsLayer`] builds from it count into one set.
//! [`MetricsService`] counts each attempt that passes it and, when it ends, its
//! outcome; [`Metrics::record_call`] counts a logical call (the `Clerk` client
//! does that for every operation it runs), so
//! [`retries`](MetricsSnapshot::retries) is the attempts beyond the calls.
//!
//! Where it goes, and why: [the default stack](crate#the-default-stack). It
//! allocates nothing per request: an atomic increment on the way in, one on the
//! way out when the outcome is worth counting.
//!
//! # Example
//!
//! ```
//! use clerk_core::{Body, Error};
//! use clerk_layers::ServiceBuilderExt;
//! use clerk_layers::metrics::Metrics;
//! use clerk_layers::retry::RetryPolicy;
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let metrics = Metrics::default();
//! let failures = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(1));
//! let service = ServiceBuilder::new()
//!     .clerk_retry(RetryPolicy::new().with_max_delay(std::time::Duration::from_millis(5)))
//!     .clerk_metrics(metrics.clone())
//!     .service(service_fn(move |_req: Request<Body>| {
//!         let fail = failures
//!             .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| n.checked_sub(1))
//!             .is_ok();
//!         async move {
//!             let mut response = Response::new(Body::empty());
//!             if fail {
//!                 *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
//!             }
//!             Ok::<_, Error>(response)
//!         }
//!     }));
//!
//! metrics.record_call();
//! service
//!     .oneshot(Request::get("http://127.0.0.1/v1/users/user_1").body(Body::empty()).unwrap())
//!     .await?;
//! let counted = metrics.snapshot();
//! assert_eq!((counted.calls, counted.attempts, counted.retries), (1, 2, 1));
//! assert_eq!(counted.rate_limited, 1);
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use clerk_core::Error;
use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// Counters shared by every clone, and by every service a [`MetricsLayer`]
/// built from it. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
    timeouts: AtomicU64,
}

/// A point-in-time copy of [`Metrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Logical calls counted with [`Metrics::record_call`] (by the `Clerk`
    /// client: operations started).
    pub calls: u64,
    /// Requests that passed the layer (first attempts and retries).
    pub attempts: u64,
    /// Attempts after the first of their call.
    pub retries: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// 5xx responses received.
    pub server_errors: u64,
    /// Attempts that failed without a response (connect, reset).
    pub transport_errors: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
}

impl Metrics {
    /// A copy of the counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let c = &self.counters;
        let calls = c.calls.load(Ordering::Relaxed);
        let attempts = c.attempts.load(Ordering::Relaxed);
        MetricsSnapshot {
            calls,
            attempts,
            // Every call makes its first attempt as soon as it is polled, so the
            // attempts beyond the calls are the retries.
            retries: attempts.saturating_sub(calls),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
            transport_errors: c.transport_errors.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
        }
    }

    /// Counts one logical call. The `Clerk` client does this for every
    /// operation; call it yourself once per call when you drive a stack with
    /// this layer directly, so `retries` comes out right.
    pub fn record_call(&self) {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// A [`MetricsLayer`] counting into these counters.
    pub fn layer(&self) -> MetricsLayer {
        MetricsLayer::new(self.clone())
    }
}

/// Counts attempts and their outcomes into [`Metrics`]. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl MetricsLayer {
    /// A layer whose services all count into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }

    /// The shared counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`MetricsLayer`] (named with its suffix because [`Metrics`]
/// is the counters' handle).
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> MetricsService<S> {
    /// The shared counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<Error>,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        self.metrics
            .counters
            .attempts
            .fetch_add(1, Ordering::Relaxed);
        ResponseFuture {
            inner: self.inner.call(request),
            counters: Arc::clone(&self.metrics.counters),
        }
    }
}

pin_project! {
    /// Response future of [`MetricsService`]: counts the attempt's outcome.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        counters: Arc<Counters>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<Error>,
{
    type Output = Result<Response<B>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx)).map_err(Into::into);
        let counter = match &result {
            Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                Some(&this.counters.rate_limited)
            }
            Ok(response) if response.status().is_server_error() => {
                Some(&this.counters.server_errors)
            }
            Ok(_) => None,
            Err(err) if err.is_timeout() => Some(&this.counters.timeouts),
            Err(err) if err.is_transport() => Some(&this.counters.transport_errors),
            Err(_) => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clerk_core::Body;
    use std::time::Duration;
    use tower::{ServiceExt, service_fn};

    #[tokio::test]
    async fn counts_each_outcome_once_and_clones_share_the_counters() {
        let metrics = Metrics::default();
        let outcome = |n: usize| match n {
            0 => Ok(StatusCode::OK),
            1 => Ok(StatusCode::TOO_MANY_REQUESTS),
            2 => Ok(StatusCode::BAD_GATEWAY),
            3 => Ok(StatusCode::NOT_FOUND),
            4 => Err(Error::timeout(Duration::from_secs(1))),
            5 => Err(Error::transport("reset")),
            6 => Err(Error::connect("refused")),
            _ => Err(Error::invalid_request("bad")),
        };
        for n in 0..8 {
            let service = MetricsLayer::new(metrics.clone()).layer(service_fn(
                move |_req: Request<Body>| async move {
                    outcome(n).map(|status| {
                        let mut response = Response::new(Body::empty());
                        *response.status_mut() = status;
                        response
                    })
                },
            ));
            let _ = service
                .oneshot(
                    Request::get("http://127.0.0.1/v1/users")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
        }
        let counted = metrics.snapshot();
        assert_eq!(counted.attempts, 8);
        assert_eq!(counted.calls, 0);
        assert_eq!(counted.retries, 8);
        assert_eq!(counted.rate_limited, 1);
        assert_eq!(counted.server_errors, 1);
        assert_eq!(counted.timeouts, 1);
        // `connect` is a transport error too.
        assert_eq!(counted.transport_errors, 2);
    }
}
