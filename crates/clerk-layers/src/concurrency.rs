//! A cap on requests in flight, shared by every clone of the stack.
//!
//! [`GlobalConcurrencyLimitLayer`] hands one `Arc<Semaphore>` to every service it
//! builds (tower's `ConcurrencyLimit::with_semaphore`), so clones of the client
//! share the cap instead of each getting its own: the semantics of tower's
//! `GlobalConcurrencyLimitLayer`, not of tower's per-service
//! `ConcurrencyLimitLayer`. Unlike tower's, it tells how many requests are in
//! flight ([`GlobalConcurrencyLimitLayer::in_flight`]). Waiters queue fairly
//! (tokio's semaphore is FIFO).
//!
//! Where it goes, and why: [the default stack](crate#the-default-stack). The default is
//! [`DEFAULT_MAX_IN_FLIGHT`] (64), far above what Clerk's 100 requests per second
//! need at typical latencies.
//!
//! # Example
//!
//! ```
//! use clerk_core::{Body, Error};
//! use clerk_layers::concurrency::GlobalConcurrencyLimitLayer;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let limit = GlobalConcurrencyLimitLayer::new(8);
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
pub struct GlobalConcurrencyLimitLayer {
    semaphore: Arc<Semaphore>,
    max: usize,
}

impl GlobalConcurrencyLimitLayer {
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

impl Default for GlobalConcurrencyLimitLayer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_IN_FLIGHT)
    }
}

impl From<usize> for GlobalConcurrencyLimitLayer {
    fn from(max: usize) -> Self {
        Self::new(max)
    }
}

impl<S> Layer<S> for GlobalConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit::with_semaphore(inner, self.semaphore.clone())
    }
}
