//! [`Retry`]: tower's retry loop, without cloning the inner service on every call.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower::retry::Policy;
use tower_service::Service;

/// Retries requests according to a [`Policy`] (a
/// [`RetryPolicy`](super::RetryPolicy) in the Clerk stack): the loop of
/// `tower::retry::Retry`, whose policies it takes unchanged.
///
/// One difference: tower's `Retry` clones itself, inner service included, into
/// every response future, in case the call is retried. This one sends the first
/// attempt on its own (readied) service and keeps a spare clone of the service,
/// shared behind an `Arc`, to clone from only when a retry actually happens; the
/// call that is not retried costs one reference count. The spare is taken when
/// the `Retry` is built: clones of a Clerk service share their state (pool,
/// limiter, semaphore, counters), so a clone of it is as good as a clone of the
/// service at the time of the retry.
#[derive(Clone)]
pub struct Retry<P, S> {
    policy: P,
    service: S,
    spare: Arc<S>,
}

impl<P, S: Clone> Retry<P, S> {
    /// Retries calls to `service` according to `policy`.
    pub fn new(policy: P, service: S) -> Self {
        Self {
            policy,
            spare: Arc::new(service.clone()),
            service,
        }
    }
}

impl<P, S> Retry<P, S> {
    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.service
    }
}

impl<P: fmt::Debug, S: fmt::Debug> fmt::Debug for Retry<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("policy", &self.policy)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<P, S, Request> Service<Request> for Retry<P, S>
where
    P: Policy<Request, S::Response, S::Error> + Clone,
    S: Service<Request> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<P, S, Request>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Per-call state (attempts, the delay schedule) lives in this copy.
        let mut policy = self.policy.clone();
        let kept = policy.clone_request(&request);
        let future = self.service.call(request);
        ResponseFuture {
            request: kept,
            policy,
            spare: Arc::clone(&self.spare),
            service: None,
            state: State::Called { future },
        }
    }
}

pin_project! {
    /// Response future of [`Retry`].
    pub struct ResponseFuture<P, S, Request>
    where
        P: Policy<Request, S::Response, S::Error>,
        S: Service<Request>,
    {
        // The copy a retry resends (`None`: the policy keeps none, so no retry).
        request: Option<Request>,
        policy: P,
        spare: Arc<S>,
        // Cloned from `spare` at the first retry, and reused by later ones.
        service: Option<Box<S>>,
        #[pin]
        state: State<S::Future, P::Future>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, W> {
        Called { #[pin] future: F },
        Waiting { #[pin] waiting: W },
        Retrying,
    }
}

impl<P, S, Request> Future for ResponseFuture<P, S, Request>
where
    P: Policy<Request, S::Response, S::Error>,
    S: Service<Request> + Clone,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Called { future } => {
                    let mut result = ready!(future.poll(cx));
                    let Some(request) = this.request.as_mut() else {
                        return Poll::Ready(result);
                    };
                    match this.policy.retry(request, &mut result) {
                        Some(waiting) => this.state.set(State::Waiting { waiting }),
                        None => return Poll::Ready(result),
                    }
                }
                StateProj::Waiting { waiting } => {
                    ready!(waiting.poll(cx));
                    this.state.set(State::Retrying);
                }
                StateProj::Retrying => {
                    let spare = &**this.spare;
                    let service = this.service.get_or_insert_with(|| Box::new(spare.clone()));
                    ready!(service.poll_ready(cx))?;
                    let Some(request) = this.request.take() else {
                        unreachable!("a retry is only scheduled with a kept request");
                    };
                    *this.request = this.policy.clone_request(&request);
                    let future = service.call(request);
                    this.state.set(State::Called { future });
                }
            }
        }
    }
}

impl<P, S, Request> fmt::Debug for ResponseFuture<P, S, Request>
where
    P: Policy<Request, S::Response, S::Error>,
    S: Service<Request>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("retrying", &self.service.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use clerk_core::{Body, Error};
    use http::{Request, Response, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::retry::RetryPolicy;

    /// Answers with the next status of its script; counts its clones.
    struct Scripted {
        statuses: Arc<std::sync::Mutex<Vec<StatusCode>>>,
        clones: Arc<AtomicUsize>,
    }

    impl Clone for Scripted {
        fn clone(&self) -> Self {
            self.clones.fetch_add(1, Ordering::SeqCst);
            Scripted {
                statuses: self.statuses.clone(),
                clones: self.clones.clone(),
            }
        }
    }

    impl Service<Request<Body>> for Scripted {
        type Response = Response<Body>;
        type Error = Error;
        type Future = std::future::Ready<Result<Response<Body>, Error>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<Body>) -> Self::Future {
            let status = self.statuses.lock().unwrap().remove(0);
            let mut response = Response::new(Body::empty());
            *response.status_mut() = status;
            std::future::ready(Ok(response))
        }
    }

    fn get() -> Request<Body> {
        Request::get("http://127.0.0.1/v1/users/user_1")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_inner_service_is_cloned_only_when_a_call_is_retried() {
        let clones = Arc::new(AtomicUsize::new(0));
        let statuses = Arc::new(std::sync::Mutex::new(vec![
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::BAD_GATEWAY,
            StatusCode::OK,
        ]));
        let policy = RetryPolicy::new().with_max_delay(Duration::from_millis(5));
        let mut retry = Retry::new(
            policy,
            Scripted {
                statuses: statuses.clone(),
                clones: clones.clone(),
            },
        );
        let built = clones.load(Ordering::SeqCst); // the spare
        for _ in 0..2 {
            let response = retry.ready().await.unwrap().call(get()).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        assert_eq!(clones.load(Ordering::SeqCst), built, "no retry, no clone");
        // 503, 502, then 200: two retries share one clone of the spare.
        let response = retry.ready().await.unwrap().call(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(statuses.lock().unwrap().is_empty());
        assert_eq!(clones.load(Ordering::SeqCst), built + 1);
    }
}
