//! The tower layer around [`RateLimiter`].

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use clerk_core::{Error, OperationInfo, retry_after};
use futures_util::ready;
use http::{Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use super::RateLimiter;
use crate::extensions::RateLimitWait;

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
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S::Error: Into<Error>,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The wait happens in the response future, on a clone of the inner service
        // readied there: nothing is reserved here, so nothing can leak.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        let per_user = if limiter.limits_per_user() {
            per_user_key(&request)
        } else {
            None
        };
        let state = match per_user {
            Some(key) => {
                let per_user = limiter.clone();
                State::PerUser {
                    wait: Box::pin(async move {
                        let _waiting = per_user.waiting_guard();
                        per_user.wait_per_user(&key).await;
                    }),
                    started: Instant::now(),
                    inner: Some(inner),
                    request: Some(request),
                }
            }
            None => State::Readying {
                inner: Some(inner),
                request: Some(request),
            },
        };
        ResponseFuture {
            state,
            limiter,
            waited: Duration::ZERO,
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

type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

pin_project! {
    /// Response future of [`RateLimit`]: waits for the user's limit, readies the
    /// inner service (e.g. takes a concurrency permit), waits for the instance
    /// quota and the 429 cooldown, then sends. When the quota has room and nobody
    /// queues, the grant is taken on the spot, without an allocation.
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
        limiter: RateLimiter,
        waited: Duration,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        PerUser { wait: Wait, started: Instant, inner: Option<S>, request: Option<Request<ReqBody>> },
        Readying { inner: Option<S>, request: Option<Request<ReqBody>> },
        Global { wait: Wait, started: Instant, inner: Option<S>, request: Option<Request<ReqBody>> },
        Calling { #[pin] future: S::Future },
        Done,
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<Error>,
{
    type Output = Result<Response<ResBody>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::PerUser {
                    wait,
                    started,
                    inner,
                    request,
                } => {
                    ready!(wait.as_mut().poll(cx));
                    *this.waited += started.elapsed();
                    let (inner, request) = (inner.take(), request.take());
                    this.state.set(State::Readying { inner, request });
                }
                StateProj::Readying { inner, request } => {
                    // Readied *before* the grant, so nothing between the grant and
                    // the send can bunch requests together.
                    let Some(service) = inner.as_mut() else {
                        return Poll::Ready(Err(Error::invalid_request(
                            "rate limit future polled after completion",
                        )));
                    };
                    if let Err(err) = ready!(service.poll_ready(cx)) {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(err.into()));
                    }
                    let (inner, request) = (inner.take(), request.take());
                    if this.limiter.try_grant_now() {
                        this.state.set(State::Done);
                        start_call(
                            this.state.as_mut(),
                            this.limiter,
                            *this.waited,
                            inner,
                            request,
                        );
                    } else {
                        let limiter = this.limiter.clone();
                        this.state.set(State::Global {
                            wait: Box::pin(async move {
                                let _waiting = limiter.waiting_guard();
                                limiter.wait_global().await;
                            }),
                            started: Instant::now(),
                            inner,
                            request,
                        });
                    }
                }
                StateProj::Global {
                    wait,
                    started,
                    inner,
                    request,
                } => {
                    ready!(wait.as_mut().poll(cx));
                    *this.waited += started.elapsed();
                    let (inner, request) = (inner.take(), request.take());
                    // The finished wait must never be polled again.
                    this.state.set(State::Done);
                    start_call(
                        this.state.as_mut(),
                        this.limiter,
                        *this.waited,
                        inner,
                        request,
                    );
                }
                StateProj::Calling { future } => {
                    let result = ready!(future.poll(cx)).map_err(Into::into);
                    this.state.set(State::Done);
                    match &result {
                        Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                            this.limiter
                                .note_rate_limited(retry_after(response.headers()));
                        }
                        Err(err) if err.status() == Some(StatusCode::TOO_MANY_REQUESTS) => {
                            this.limiter.note_rate_limited(err.retry_after());
                        }
                        _ => {}
                    }
                    let waited = *this.waited;
                    return Poll::Ready(result.map(|mut response| {
                        response.extensions_mut().insert(RateLimitWait(waited));
                        response
                    }));
                }
                StateProj::Done => {
                    return Poll::Ready(Err(Error::invalid_request(
                        "rate limit future polled after completion",
                    )));
                }
            }
        }
    }
}

/// Records the grant and sends the request on the readied service (the state
/// stays `Done` if either is missing, which the states above never allow).
fn start_call<S, ReqBody>(
    mut state: Pin<&mut State<S, ReqBody>>,
    limiter: &RateLimiter,
    waited: Duration,
    inner: Option<S>,
    request: Option<Request<ReqBody>>,
) where
    S: Service<Request<ReqBody>>,
{
    let (Some(mut inner), Some(request)) = (inner, request) else {
        return;
    };
    limiter.finish(waited);
    let future = inner.call(request);
    state.set(State::Calling { future });
}

impl<S, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}
