//! Counters of what a client did: calls, attempts, retries, 429s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use clerk_core::{ClerkRequest, ClerkResponse, Error};
use pin_project_lite::pin_project;
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
{
    type Response = ClerkResponse;
    type Error = Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ClerkRequest) -> Self::Future {
        self.metrics.inner.attempts.fetch_add(1, Ordering::Relaxed);
        MetricsFuture {
            inner: self.inner.call(request),
            counters: Arc::clone(&self.metrics.inner),
        }
    }
}

pin_project! {
    /// Response future of [`MetricsService`].
    #[derive(Debug)]
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        counters: Arc<Counters>,
    }
}

impl<F> Future for MetricsFuture<F>
where
    F: Future<Output = Result<ClerkResponse, Error>>,
{
    type Output = Result<ClerkResponse, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let counter = match &result {
            Ok(response) if response.status().as_u16() == 429 => Some(&this.counters.rate_limited),
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
