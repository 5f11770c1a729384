//! Counters of what a client did: calls, attempts, retries, 429s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};

use clerk_core::{ClerkRequest, ClerkResponse, Error};
use futures_util::future::{BoxFuture, FutureExt};
use tower::{Layer, Service};

/// Counters shared by every clone of a [`Clerk`](crate::Clerk) client.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
    timeouts: AtomicU64,
}

/// A point-in-time copy of [`Metrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Operations started through the client.
    pub calls: u64,
    /// HTTP requests handed to the transport (first attempts and retries).
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
        let c = &self.inner;
        MetricsSnapshot {
            calls: c.calls.load(Ordering::Relaxed),
            attempts: c.attempts.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
            transport_errors: c.transport_errors.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn record_call(&self) {
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// A layer that counts every attempt that passes it; place it inside the retry layer.
    pub fn layer(&self) -> MetricsLayer {
        MetricsLayer {
            metrics: self.clone(),
        }
    }
}

/// Marks the attempts of one call: every copy the retry layer makes of a request
/// shares it, so the metrics layer can tell a retry from a first attempt.
#[derive(Clone, Debug, Default)]
pub(crate) struct AttemptCounter(Arc<AtomicU32>);

/// Counts attempts and their outcomes into [`Metrics`].
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Metrics,
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

/// The service of [`MetricsLayer`].
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> Service<ClerkRequest> for MetricsService<S>
where
    S: Service<ClerkRequest, Response = ClerkResponse, Error = Error>,
    S::Future: Send + 'static,
{
    type Response = ClerkResponse;
    type Error = Error;
    type Future = BoxFuture<'static, Result<ClerkResponse, Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ClerkRequest) -> Self::Future {
        let counters = Arc::clone(&self.metrics.inner);
        counters.attempts.fetch_add(1, Ordering::Relaxed);
        if let Some(counter) = request.extensions().get::<AttemptCounter>()
            && counter.0.fetch_add(1, Ordering::Relaxed) > 0
        {
            counters.retries.fetch_add(1, Ordering::Relaxed);
        }
        let future = self.inner.call(request);
        async move {
            let result = future.await;
            match &result {
                Ok(response) if response.status().as_u16() == 429 => {
                    counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                Ok(response) if response.status().is_server_error() => {
                    counters.server_errors.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(err) if err.is_timeout() => {
                    counters.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                Err(err) if err.is_transport() => {
                    counters.transport_errors.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {}
            }
            result
        }
        .boxed()
    }
}
