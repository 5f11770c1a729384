//! Deadlines returning [`Error::timeout`]: one per attempt, one per operation.
//!
//! One [`TimeoutLayer`] used at two positions of the stack ([the default
//! stack](crate#the-default-stack) says where, and why):
//!
//! * **per attempt**: [`TimeoutLayer::attempt`], 10 s by default
//!   ([`DEFAULT_ATTEMPT_TIMEOUT`]). A timed-out attempt is retried if the call is
//!   idempotent; for a create it becomes an outcome-unknown error.
//! * **per operation**: [`TimeoutLayer::operation`], 60 s by default
//!   ([`DEFAULT_OPERATION_TIMEOUT`]), the whole call including waits and retries.
//!
//! The connect timeout lives in the transport. Unlike `tower::timeout`, the error
//! is a [`clerk_core::Error`] (`is_timeout()`), which the retry policy classifies.
//! The timer starts when the service is *called*, not when it is polled.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use clerk_core::{Body, Error};
//! use clerk_layers::timeout::TimeoutLayer;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! tokio::time::pause();
//! let service = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_secs(2)))
//!     .service(service_fn(|_req: Request<Body>| async {
//!         tokio::time::sleep(Duration::from_secs(5)).await;
//!         Ok::<_, Error>(Response::new(Body::empty()))
//!     }));
//! let err = service
//!     .oneshot(Request::get("http://127.0.0.1/v1/users").body(Body::empty()).unwrap())
//!     .await
//!     .unwrap_err();
//! assert!(err.is_timeout());
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use clerk_core::Error;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower_layer::Layer;
use tower_service::Service;

/// Default deadline of one attempt.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default deadline of a whole operation, retries included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Fails a call that takes longer than its deadline with [`Error::timeout`].
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    timeout: Duration,
}

impl TimeoutLayer {
    /// A deadline of `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// The default per-attempt deadline (10 s).
    pub fn attempt() -> Self {
        Self::new(DEFAULT_ATTEMPT_TIMEOUT)
    }

    /// The default per-operation deadline (60 s).
    pub fn operation() -> Self {
        Self::new(DEFAULT_OPERATION_TIMEOUT)
    }

    /// The deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.timeout)
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with a deadline of `timeout`.
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self { inner, timeout }
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

impl<S, Request> Service<Request> for Timeout<S>
where
    S: Service<Request>,
    S::Error: Into<Error>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        ResponseFuture {
            inner: self.inner.call(request),
            sleep: tokio::time::sleep(self.timeout),
            timeout: self.timeout,
        }
    }
}

pin_project! {
    /// Response future of [`Timeout`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        timeout: Duration,
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Error>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map_err(Into::into));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Error::timeout(*this.timeout))),
            Poll::Pending => Poll::Pending,
        }
    }
}
