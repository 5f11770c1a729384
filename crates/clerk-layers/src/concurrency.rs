//! A cap on requests in flight, shared by every clone of the stack.
//!
//! [`ConcurrencyLimitLayer`] hands one `Arc<Semaphore>` to every service it
//! builds (tower's `ConcurrencyLimit::with_semaphore`, the same as
//! `GlobalConcurrencyLimitLayer`), so clones of the client share the cap instead
//! of each getting its own. Waiters queue fairly (tokio's semaphore is FIFO).
//!
//! Put it inside the rate limit layer: the rate limiter readies it (takes the
//! permit) before taking a grant, so a request that is granted leaves at once,
//! and requests sleeping in a retry backoff hold no permit. The default is
//! [`DEFAULT_MAX_IN_FLIGHT`] (64), far above what Clerk's 100 requests per second
//! need at typical latencies.
//!
//! # Example
//!
//! ```
//! use clerk_core::{Body, Error};
//! use clerk_layers::concurrency::ConcurrencyLimitLayer;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let limit = ConcurrencyLimitLayer::new(8);
//! let service = ServiceBuilder::new()
//!     .layer(limit.clone())
//!     .service(service_fn(|_req: Request<Body>| async {
//!         Ok::<_, Error>(Response::new(Body::empty()))
//!     }));
//! service
//!     .clone()
//!     .oneshot(Request::get("http://127.0.0.1/v1/users").body(Body::empty()).unwrap())
//!     .await?;
//! assert_eq!(limit.in_flight(), 0);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use tokio::sync::Semaphore;
use tower_layer::Layer;

pub use tower::limit::ConcurrencyLimit;

/// Default cap on requests in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// Caps requests in flight across every service it builds. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct ConcurrencyLimitLayer {
    semaphore: Arc<Semaphore>,
    max: usize,
}

impl ConcurrencyLimitLayer {
    /// At most `max` requests in flight (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            semaphore: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// The cap.
    pub fn max_in_flight(&self) -> usize {
        self.max
    }

    /// Requests holding a permit right now.
    pub fn in_flight(&self) -> usize {
        self.max - self.semaphore.available_permits()
    }
}

impl Default for ConcurrencyLimitLayer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_IN_FLIGHT)
    }
}

impl From<usize> for ConcurrencyLimitLayer {
    fn from(max: usize) -> Self {
        Self::new(max)
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit::with_semaphore(inner, self.semaphore.clone())
    }
}
