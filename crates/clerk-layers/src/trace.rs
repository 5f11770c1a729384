//! `tracing` spans per logical call and per attempt, with OpenTelemetry
//! HTTP-client field names.
//!
//! One [`TraceLayer`] type used at two positions of the stack ([the default
//! stack](crate#the-default-stack) says where, and why):
//!
//! * [`TraceLayer::call`]: an `INFO` span `clerk.call` for the whole logical
//!   call (all attempts, all waits);
//! * [`TraceLayer::attempt`]: a `DEBUG` span `clerk.attempt` per attempt, a
//!   child of the call span.
//!
//! Fields: `http.request.method`, `url.path` (the path **template** such as
//! `/users/{user_id}`, never the concrete path with its ids), `server.address`,
//! `http.response.status_code`, `error.type` (the status code, or `connect`,
//! `timeout`, `rate_limited`, … from [`Error::error_type`]), `clerk.operation`
//! (the operationId), `clerk.error_code`, `clerk.trace_id` (the `Clerk-Trace-Id`
//! or `cf-ray` header, or the error body's trace id), `retry_after_s`,
//! `rate_limit.wait_ms` (read from the response's [`RateLimitWait`], which the
//! rate limit layer below puts there; the call span gets the total over the
//! attempts that got a response, or the final response's wait when no attempt
//! layer runs),
//! `clerk.outcome_unknown`;
//! on the call span `attempts`, on the attempt span `attempt` (1, 2, …: counted
//! through a shared counter the call layer puts into the request extensions,
//! which retries copy along).
//!
//! What it never records: the secret key, any header value (so never
//! `Authorization`), request or response bodies (they hold passwords and TOTP
//! secrets), the concrete path or query (they hold user ids and e-mail
//! addresses), error messages (they may quote input). Only the operation, the
//! template and the codes above.
//!
//! When the span's level is disabled nothing is computed: the request is not
//! classified, no counter is allocated, the future only forwards.
//!
//! At the end of each span an event is emitted inside it: `DEBUG` on success,
//! `WARN` for a failed call (an error, or a 5xx after all retries).
//!
//! # Example
//!
//! ```
//! use clerk_core::{Body, Error};
//! use clerk_layers::trace::TraceLayer;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let service = ServiceBuilder::new()
//!     .layer(TraceLayer::call())
//!     // .layer(RetryLayer::new(..)) goes here
//!     .layer(TraceLayer::attempt())
//!     .service(service_fn(|_req: Request<Body>| async {
//!         Ok::<_, Error>(Response::new(Body::empty()))
//!     }));
//! let response = service
//!     .oneshot(Request::get("http://127.0.0.1/v1/users/user_1").body(Body::empty()).unwrap())
//!     .await?;
//! assert_eq!(response.status(), 200);
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use clerk_core::{Error, OperationInfo, header_trace_id, retry_after};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::extensions::RateLimitWait;

/// Which span the layer opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Call,
    Attempt,
}

/// Opens a span per logical call ([`TraceLayer::call`]) or per attempt
/// ([`TraceLayer::attempt`]). See the [module docs](self).
#[derive(Clone, Copy, Debug)]
pub struct TraceLayer {
    kind: Kind,
}

impl TraceLayer {
    /// An `INFO` span `clerk.call` per logical call.
    pub fn call() -> Self {
        Self { kind: Kind::Call }
    }

    /// A `DEBUG` span `clerk.attempt` per attempt.
    pub fn attempt() -> Self {
        Self {
            kind: Kind::Attempt,
        }
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace {
            inner,
            kind: self.kind,
        }
    }
}

/// The service of [`TraceLayer`].
#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
    kind: Kind,
}

impl<S> Trace<S> {
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

/// Per-call counters shared by every attempt through the request extensions.
#[derive(Clone, Debug, Default)]
struct CallStats(Arc<StatsInner>);

#[derive(Debug, Default)]
struct StatsInner {
    attempts: AtomicU32,
    wait_nanos: AtomicU64,
}

impl CallStats {
    fn next_attempt(&self) -> u32 {
        self.0.attempts.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn attempts(&self) -> u32 {
        self.0.attempts.load(Ordering::Relaxed)
    }

    fn add_wait(&self, waited: Duration) {
        self.0.wait_nanos.fetch_add(
            u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn wait(&self) -> Duration {
        Duration::from_nanos(self.0.wait_nanos.load(Ordering::Relaxed))
    }
}

fn new_span(kind: Kind) -> tracing::Span {
    use tracing::field::Empty;
    match kind {
        Kind::Call => tracing::info_span!(
            "clerk.call",
            otel.kind = "client",
            clerk.operation = Empty,
            http.request.method = Empty,
            url.path = Empty,
            server.address = Empty,
            http.response.status_code = Empty,
            "error.type" = Empty,
            clerk.error_code = Empty,
            clerk.trace_id = Empty,
            clerk.outcome_unknown = Empty,
            retry_after_s = Empty,
            rate_limit.wait_ms = Empty,
            attempts = Empty,
        ),
        Kind::Attempt => tracing::debug_span!(
            "clerk.attempt",
            otel.kind = "client",
            clerk.operation = Empty,
            http.request.method = Empty,
            url.path = Empty,
            server.address = Empty,
            http.response.status_code = Empty,
            "error.type" = Empty,
            clerk.error_code = Empty,
            clerk.trace_id = Empty,
            clerk.outcome_unknown = Empty,
            retry_after_s = Empty,
            rate_limit.wait_ms = Empty,
            attempt = Empty,
        ),
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Trace<S>
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

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let span = new_span(self.kind);
        let mut stats = None;
        if !span.is_disabled() {
            let info = OperationInfo::of(&request);
            span.record("clerk.operation", info.operation_id);
            span.record("http.request.method", request.method().as_str());
            span.record("url.path", info.path_template);
            if let Some(host) = request.uri().host() {
                span.record("server.address", host);
            }
            match self.kind {
                Kind::Call => {
                    let fresh = CallStats::default();
                    request.extensions_mut().insert(fresh.clone());
                    stats = Some(fresh);
                }
                Kind::Attempt => {
                    if let Some(shared) = request.extensions().get::<CallStats>() {
                        span.record("attempt", shared.next_attempt());
                        stats = Some(shared.clone());
                    }
                }
            }
        }
        // Entered while calling so spans of inner layers opened in `call` nest.
        let future = if span.is_disabled() {
            self.inner.call(request)
        } else {
            span.in_scope(|| self.inner.call(request))
        };
        ResponseFuture {
            inner: future,
            span,
            kind: self.kind,
            stats,
        }
    }
}

pin_project! {
    /// Response future of [`Trace`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
        kind: Kind,
        stats: Option<CallStats>,
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
        if this.span.is_disabled() {
            return this.inner.poll(cx).map_err(Into::into);
        }
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx)).map_err(Into::into);
        record_outcome(this.span, *this.kind, this.stats.as_ref(), &result);
        Poll::Ready(result)
    }
}

fn record_outcome<B>(
    span: &tracing::Span,
    kind: Kind,
    stats: Option<&CallStats>,
    result: &Result<Response<B>, Error>,
) {
    let waited = result
        .as_ref()
        .ok()
        .and_then(|response| response.extensions().get::<RateLimitWait>())
        .map(|wait| wait.0);
    match (kind, stats) {
        (Kind::Call, Some(stats)) => {
            span.record("attempts", stats.attempts().max(1));
            // Without an attempt layer below, the final response's wait is all we know.
            let total = if stats.attempts() > 0 {
                stats.wait()
            } else {
                waited.unwrap_or_default()
            };
            span.record("rate_limit.wait_ms", duration_ms(total));
        }
        (Kind::Attempt, stats) => {
            if let Some(waited) = waited {
                span.record("rate_limit.wait_ms", duration_ms(waited));
                if let Some(stats) = stats {
                    stats.add_wait(waited);
                }
            }
        }
        (Kind::Call, None) => {}
    }
    let failed = match result {
        Ok(response) => {
            let status = response.status();
            span.record("http.response.status_code", status.as_u16());
            if status.is_client_error() || status.is_server_error() {
                span.record("error.type", status.as_str());
            }
            if let Some(trace_id) = header_trace_id(response.headers()) {
                span.record("clerk.trace_id", trace_id);
            }
            if let Some(wait) = retry_after(response.headers()) {
                span.record("retry_after_s", wait.as_secs_f64());
            }
            status.is_server_error()
        }
        Err(err) => {
            if let Some(status) = err.status() {
                span.record("http.response.status_code", status.as_u16());
            }
            span.record("error.type", &*err.error_type());
            if let Some(first) = err.clerk_errors().first() {
                span.record("clerk.error_code", first.code.as_str());
            }
            if let Some(trace_id) = err.trace_id() {
                span.record("clerk.trace_id", trace_id);
            }
            if let Some(wait) = err.retry_after() {
                span.record("retry_after_s", wait.as_secs_f64());
            }
            if err.is_outcome_unknown() {
                span.record("clerk.outcome_unknown", true);
            }
            true
        }
    };
    match (kind, failed) {
        (Kind::Call, true) => tracing::warn!("clerk call failed"),
        (Kind::Call, false) => tracing::debug!("clerk call finished"),
        (Kind::Attempt, _) => tracing::debug!("clerk attempt finished"),
    }
}

fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
