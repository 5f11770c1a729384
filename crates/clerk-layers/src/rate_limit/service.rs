//! The tower layer around [`RateLimiter`].

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use clerk_core::{Error, OperationInfo};
use http::{Method, Request, Response, StatusCode};
use tokio::time::Instant;
use tower::ServiceExt;
use tower_layer::Layer;
use tower_service::Service;

use super::RateLimiter;
use crate::trace::CallStats;
use crate::util::retry_after;

/// How long a request waited in the rate limiter before it was sent (its user's
/// limit, the 429 cooldown and the instance quota). Inserted into the extensions
/// of every response that passed a [`RateLimit`] service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RateLimitWait(pub Duration);

/// Applies a shared [`RateLimiter`] to a service. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
}

impl RateLimitLayer {
    /// A layer whose services all draw from `limiter`.
    pub fn new(limiter: RateLimiter) -> Self {
        Self { limiter }
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.limiter.clone())
    }
}

/// Waits for the shared [`RateLimiter`] before each request, and starts the
/// shared cooldown on every 429. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    limiter: RateLimiter,
}

impl<S> RateLimit<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limiter: RateLimiter) -> Self {
        Self { inner, limiter }
    }

    /// A [`RateLimitLayer`] for `limiter`.
    pub fn layer(limiter: RateLimiter) -> RateLimitLayer {
        RateLimitLayer::new(limiter)
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<Error>,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = ResponseFuture<ResBody>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The wait happens in the response future, on a clone of the inner service
        // readied there: nothing is reserved here, so nothing can leak.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        let key = per_user_key(&request);
        ResponseFuture {
            inner: Box::pin(limited(limiter, inner, request, key)),
        }
    }
}

fn per_user_key<B>(request: &Request<B>) -> Option<String> {
    match request.extensions().get::<OperationInfo>() {
        Some(info) => info.per_user_limit_key.clone(),
        // Only PATCHes carry a per-user limit: skip classifying everything else.
        None if request.method() == Method::PATCH => {
            OperationInfo::classify(request.method(), request.uri().path()).per_user_limit_key
        }
        None => None,
    }
}

async fn limited<S, ReqBody, ResBody>(
    limiter: RateLimiter,
    mut inner: S,
    request: Request<ReqBody>,
    key: Option<String>,
) -> Result<Response<ResBody>, Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<Error>,
{
    let mut waited = Duration::ZERO;
    if let Some(key) = &key {
        let _waiting = limiter.waiting_guard();
        let started = Instant::now();
        limiter.wait_per_user(key).await;
        waited += started.elapsed();
    }
    // Ready the inner service (e.g. take a concurrency permit) *before* the grant,
    // so nothing between the grant and the send can bunch requests together.
    inner.ready().await.map_err(Into::into)?;
    {
        let _waiting = limiter.waiting_guard();
        let started = Instant::now();
        limiter.wait_global().await;
        waited += started.elapsed();
    }
    let waited = limiter.finish(waited);
    if let Some(stats) = request.extensions().get::<CallStats>() {
        stats.add_wait(waited);
    }
    tracing::Span::current().record("rate_limit.wait_ms", duration_ms(waited));

    let result = inner.call(request).await.map_err(Into::into);
    match &result {
        Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
            limiter.note_rate_limited(retry_after(response.headers()));
        }
        Err(err) if err.status() == Some(StatusCode::TOO_MANY_REQUESTS) => {
            limiter.note_rate_limited(err.retry_after());
        }
        _ => {}
    }
    result.map(|mut response| {
        response.extensions_mut().insert(RateLimitWait(waited));
        response
    })
}

pub(crate) fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Response future of [`RateLimit`].
pub struct ResponseFuture<B> {
    inner: Pin<Box<dyn Future<Output = Result<Response<B>, Error>> + Send>>,
}

impl<B> Future for ResponseFuture<B> {
    type Output = Result<Response<B>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<B> fmt::Debug for ResponseFuture<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
