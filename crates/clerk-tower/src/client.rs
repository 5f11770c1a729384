//! The [`Clerk`] client: drives typed operations through a tower stack.

use std::fmt;
use std::sync::Arc;

use clerk_core::{BaseUrl, ClerkRequest, ClerkResponse, Error, Operation};
use clerk_layers::rate_limit::RateLimiter;
use tower::Service;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::builder::ClerkBuilder;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::users_api::Users;

/// The type-erased stack the builder produces: cheap to clone, `Send + Sync`.
pub type ClerkService = BoxCloneSyncService<ClerkRequest, ClerkResponse, Error>;

/// A client of Clerk's Backend API.
///
/// `Clerk` is a thin handle around a tower [`Service`] stack: it builds each
/// operation's HTTP request, sends it through the stack and parses the answer.
/// Clones share the stack (connection pool, rate limiter, retry budget, metrics).
///
/// The default stack (see [`ClerkBuilder`]) is type-erased as [`ClerkService`];
/// bring your own with [`Clerk::from_service`].
///
/// ```no_run
/// # async fn run() -> Result<(), clerk_tower::Error> {
/// let clerk = clerk_tower::Clerk::builder().build()?; // CLERK_SECRET_KEY, CLERK_API_URL
/// let user = clerk.users().get("user_2xhFjEI5X2qWRvtV13BzSj8H6Dk").await?;
/// println!("{:?}", user.first_name);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Clerk<S = ClerkService> {
    service: S,
    base_url: Arc<BaseUrl>,
    metrics: Metrics,
    rate_limiter: Option<RateLimiter>,
}

impl Clerk {
    /// A builder for the default stack.
    pub fn builder() -> ClerkBuilder {
        ClerkBuilder::new()
    }
}

impl<S> Clerk<S>
where
    S: Service<ClerkRequest, Response = ClerkResponse, Error = Error> + Clone,
{
    /// A client over any service that speaks `http::Request<Body>` →
    /// `http::Response<Body>` with [`Error`]: your own stack, or ours inside yours.
    /// Requests go to `base_url`; nothing is added to them (authentication, rate
    /// limits and retries are the stack's business).
    pub fn from_service(service: S, base_url: BaseUrl) -> Self {
        Self {
            service,
            base_url: Arc::new(base_url),
            metrics: Metrics::default(),
            rate_limiter: None,
        }
    }

    pub(crate) fn with_parts(
        service: S,
        base_url: BaseUrl,
        metrics: Metrics,
        rate_limiter: Option<RateLimiter>,
    ) -> Self {
        Self {
            service,
            base_url: Arc::new(base_url),
            metrics,
            rate_limiter,
        }
    }

    /// Runs one operation: builds its request, sends it through the stack and
    /// parses the response.
    pub async fn execute<O: Operation>(&self, operation: O) -> Result<O::Output, Error> {
        let request = operation.build_request(&self.base_url)?;
        self.metrics.record_call();
        let response = self.service.clone().oneshot(request).await?;
        operation.parse_response(response)
    }

    /// The Users resource: all 27 operations.
    pub fn users(&self) -> Users<'_, S> {
        Users::new(self)
    }

    /// Counters of calls, attempts, retries and 429s, shared by every clone.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// The shared rate limiter of the default stack (`None` when rate limiting is
    /// off or the stack was brought with [`Clerk::from_service`]).
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.rate_limiter.as_ref()
    }

    /// Where requests go.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    /// The underlying service stack.
    pub fn service(&self) -> &S {
        &self.service
    }
}

impl<S> fmt::Debug for Clerk<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clerk")
            .field("base_url", &self.base_url)
            .field("rate_limited", &self.rate_limiter.is_some())
            .finish_non_exhaustive()
    }
}
