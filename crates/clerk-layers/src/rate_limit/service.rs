//! The tower layer around [`RateLimiter`].

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
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
        // The wait happens in the response future, on the inner service readied
        // there: nothing is reserved here, so nothing can leak.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let limiter = self.limiter.clone();
        let per_user = if limiter.limits_per_user() {
            per_user_key(&request)
        } else {
            None
        };
        if let Some(key) = per_user {
            let per_user = limiter.clone();
            let wait = Box::pin(async move {
                let _waiting = per_user.waiting_guard();
                per_user.wait_per_user(&key).await;
            });
            let inner = self.take_inner();
            return ResponseFuture::waiting(
                limiter,
                Stage::PerUser(wait, Instant::now()),
                inner,
                request,
            );
        }
        // The common case, a quota with room and a free permit, is decided here and
        // costs no clone of the inner service and no allocation. The inner service is
        // readied with a no-op waker: if it is not ready, it goes (with whatever it
        // registered) into the response future, whose poll readies it again with
        // the task's waker.
        let mut no_op = Context::from_waker(Waker::noop());
        match self.inner.poll_ready(&mut no_op) {
            Poll::Ready(Ok(())) if limiter.try_grant_now() => {
                limiter.finish(Duration::ZERO);
                let future = self.inner.call(request);
                ResponseFuture {
                    state: State::Calling { future },
                    limiter,
                    waited: Duration::ZERO,
                }
            }
            // Readied (e.g. holding its permit) but no grant yet: wait for one.
            Poll::Ready(Ok(())) => {
                let inner = self.take_inner();
                let wait = global_wait(&limiter);
                ResponseFuture::waiting(
                    limiter,
                    Stage::Global(wait, Instant::now()),
                    inner,
                    request,
                )
            }
            Poll::Ready(Err(err)) => ResponseFuture {
                state: State::Failed {
                    error: Some(err.into()),
                },
                limiter,
                waited: Duration::ZERO,
            },
            Poll::Pending => {
                let inner = self.take_inner();
                ResponseFuture::waiting(limiter, Stage::Readying, inner, request)
            }
        }
    }
}

impl<S: Clone> RateLimit<S> {
    /// The inner service, in whatever state it is, for a response future to keep;
    /// a fresh clone stays here.
    fn take_inner(&mut self) -> S {
        let clone = self.inner.clone();
        mem::replace(&mut self.inner, clone)
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

fn global_wait(limiter: &RateLimiter) -> Wait {
    let limiter = limiter.clone();
    Box::pin(async move {
        let _waiting = limiter.waiting_guard();
        limiter.wait_global().await;
    })
}

pin_project! {
    /// Response future of [`RateLimit`]. When the quota has room, nobody queues and
    /// the inner service is ready, the request was granted and sent in `call` and
    /// this only forwards the inner future. Otherwise it waits for the user's limit,
    /// readies the inner service (e.g. takes a concurrency permit), waits for the
    /// instance quota and the 429 cooldown, then sends; that state lives in one
    /// allocation, so the common case stays small.
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
        Waiting { waiting: Box<Waiting<S, ReqBody>> },
        Calling { #[pin] future: S::Future },
        Failed { error: Option<Error> },
        Done,
    }
}

/// A request that could not be sent at once, with the service that will send it.
struct Waiting<S, ReqBody> {
    stage: Stage,
    inner: Option<S>,
    request: Option<Request<ReqBody>>,
}

enum Stage {
    /// Waiting for the user's own limit (since the instant).
    PerUser(Wait, Instant),
    /// Readying the inner service.
    Readying,
    /// Readied; waiting for the instance quota and the cooldown (since the instant).
    Global(Wait, Instant),
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn waiting(limiter: RateLimiter, stage: Stage, inner: S, request: Request<ReqBody>) -> Self {
        ResponseFuture {
            state: State::Waiting {
                waiting: Box::new(Waiting {
                    stage,
                    inner: Some(inner),
                    request: Some(request),
                }),
            },
            limiter,
            waited: Duration::ZERO,
        }
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
                StateProj::Waiting { waiting } => {
                    let granted = match &mut waiting.stage {
                        Stage::PerUser(wait, started) => {
                            ready!(wait.as_mut().poll(cx));
                            *this.waited += started.elapsed();
                            waiting.stage = Stage::Readying;
                            continue;
                        }
                        Stage::Readying => {
                            // Readied *before* the grant, so nothing between the
                            // grant and the send can bunch requests together.
                            let Some(service) = waiting.inner.as_mut() else {
                                this.state.set(State::Done);
                                continue;
                            };
                            if let Err(err) = ready!(service.poll_ready(cx)) {
                                this.state.set(State::Done);
                                return Poll::Ready(Err(err.into()));
                            }
                            if !this.limiter.try_grant_now() {
                                waiting.stage =
                                    Stage::Global(global_wait(this.limiter), Instant::now());
                                continue;
                            }
                            (waiting.inner.take(), waiting.request.take())
                        }
                        Stage::Global(wait, started) => {
                            ready!(wait.as_mut().poll(cx));
                            *this.waited += started.elapsed();
                            (waiting.inner.take(), waiting.request.take())
                        }
                    };
                    // The finished wait must never be polled again.
                    this.state.set(State::Done);
                    if let (Some(mut inner), Some(request)) = granted {
                        this.limiter.finish(*this.waited);
                        let future = inner.call(request);
                        this.state.set(State::Calling { future });
                    }
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
                StateProj::Failed { error } => {
                    let error = error.take();
                    this.state.set(State::Done);
                    if let Some(error) = error {
                        return Poll::Ready(Err(error));
                    }
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
