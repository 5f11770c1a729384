//! The [`Clerk`] client: drives typed operations through a tower stack.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use clerk_core::{
    ApiVersion, BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, RetryClass,
};
use clerk_layers::rate_limit::RateLimiter;
use http::header::{HeaderName, HeaderValue};
use tower::Service;
use tower::util::BoxCloneSyncService;

use crate::builder::ClerkBuilder;
use crate::users_api::Users;
use clerk_layers::metrics::{Metrics, MetricsSnapshot};

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
    /// Clones of `service` that finished a `call`, for the next calls to take
    /// (`Service::call` needs `&mut`; a clone of the default stack costs an
    /// allocation and a count on every shared part of it).
    spares: Arc<Spares<S>>,
    base_url: Arc<BaseUrl>,
    metrics: Metrics,
    rate_limiter: Option<RateLimiter>,
    api_version: ApiVersion,
    /// `api_version` as a header value, built once rather than on every call.
    api_version_header: HeaderValue,
    /// The version the stack's own headers layer sets when a request has none
    /// (the default stack's); `None` for a stack we know nothing of.
    stack_version: Option<ApiVersion>,
}

/// Idle clones of a client's stack, shared by the client's clones. Holds at most
/// [`Spares::MAX`]: about as many as calls were being readied at one moment.
struct Spares<S>(Mutex<Vec<S>>);

impl<S> Default for Spares<S> {
    fn default() -> Self {
        Spares(Mutex::new(Vec::new()))
    }
}

impl<S> Spares<S> {
    const MAX: usize = 64;

    fn take(&self) -> Option<S> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    fn put(&self, service: S) {
        let mut spares = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if spares.len() < Self::MAX {
            spares.push(service);
        }
    }
}

/// Checked when compiled, not on every call.
const API_VERSION_HEADER: HeaderName = HeaderName::from_static(ApiVersion::HEADER);

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
    /// Requests go to `base_url` with `Clerk-API-Version` set to
    /// [`ApiVersion::DEFAULT`] (change it with [`with_api_version`](Self::with_api_version));
    /// nothing else is added (authentication, rate limits and retries are the
    /// stack's business).
    pub fn from_service(service: S, base_url: BaseUrl) -> Self {
        Self {
            service,
            spares: Arc::default(),
            base_url: Arc::new(base_url),
            metrics: Metrics::default(),
            rate_limiter: None,
            api_version: ApiVersion::DEFAULT,
            api_version_header: HeaderValue::from_static(ApiVersion::DEFAULT.as_str()),
            stack_version: None,
        }
    }

    pub(crate) fn with_parts(
        service: S,
        base_url: BaseUrl,
        metrics: Metrics,
        rate_limiter: Option<RateLimiter>,
        api_version: ApiVersion,
    ) -> Self {
        Self {
            service,
            spares: Arc::default(),
            base_url: Arc::new(base_url),
            metrics,
            rate_limiter,
            api_version,
            api_version_header: HeaderValue::from_static(api_version.as_str()),
            stack_version: Some(api_version),
        }
    }

    /// The same client asking for API `version` (see [`ApiVersion`]).
    #[must_use]
    pub fn with_api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self.api_version_header = HeaderValue::from_static(version.as_str());
        self
    }

    /// The API version every typed call sends as `Clerk-API-Version`.
    pub fn api_version(&self) -> ApiVersion {
        self.api_version
    }

    /// Runs one operation: checks it against the client's [`ApiVersion`], builds
    /// its request, sends it through the stack and parses the response. What the
    /// version does not accept (an operation it lacks, metadata on `UpdateUser`
    /// under 2026-05-12) fails with [`Error::is_invalid_request`] before anything
    /// is sent. A non-idempotent call (a user creation) that failed in
    /// a way that may have applied it ([`Applied::may_have`](clerk_core::Applied::may_have):
    /// a timeout, a connection lost after sending, a 5xx, a 2xx with an unreadable
    /// body) fails with [`Error::is_outcome_unknown`], whatever layer noticed and
    /// whatever the retry settings.
    ///
    /// A delete whose first attempt was applied but whose answer was lost, and
    /// whose resend found the thing gone ([`Error::is_applied_earlier`], set by the
    /// retry layer), succeeds with what the lost answer would have said
    /// ([`Operation::output_if_applied_earlier`]: for the user, passkey, web3 wallet
    /// and external account deletes a [`DeletedObject`](clerk_core::DeletedObject)
    /// with `applied_earlier: true`), so "delete this user" is done once the user
    /// is gone. The trusted-device revoke, whose answer is the device, keeps the
    /// error. A `404` to a first attempt stays an [`Error::is_not_found`] error.
    pub async fn execute<O: Operation>(&self, operation: O) -> Result<O::Output, Error> {
        operation.check_api_version(self.api_version)?;
        let mut request = operation.build_request(&self.base_url)?;
        // The version checked is the version sent, whatever the stack's own
        // headers layer would default to. When that layer sets this very version
        // (the default stack, unless `with_api_version` changed it) it is left to
        // it: a request without headers is cheaper to keep for a retry.
        if self.stack_version != Some(self.api_version) {
            request
                .headers_mut()
                .insert(API_VERSION_HEADER, self.api_version_header.clone());
        }
        let not_idempotent = request
            .extensions()
            .get::<OperationInfo>()
            .is_some_and(|info| info.retry_class == RetryClass::NotIdempotent);
        self.metrics.record_call();
        let result = match self.send(request).await {
            Ok(response) => operation.parse_response(response),
            Err(err) => Err(err),
        };
        match result {
            Err(err) if err.is_applied_earlier() => {
                operation.output_if_applied_earlier().ok_or(err)
            }
            Err(err) if not_idempotent && !err.is_outcome_unknown() && err.applied().may_have() => {
                Err(err.into_outcome_unknown())
            }
            other => other,
        }
    }

    /// `ServiceExt::oneshot` on a clone of the stack, without its state machine
    /// holding the request (one copy of it fewer): ready the clone, call it, and
    /// keep it for a later call (readied again then) instead of dropping it. A clone
    /// is used by one call at a time; one whose readying failed or was abandoned is
    /// dropped.
    async fn send(&self, request: ClerkRequest) -> Result<ClerkResponse, Error> {
        let mut service = self.spares.take().unwrap_or_else(|| self.service.clone());
        std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
        let response = service.call(request);
        self.spares.put(service);
        response.await
    }

    /// The Users resource: all 38 operations.
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
            .field("api_version", &self.api_version)
            .field("rate_limited", &self.rate_limiter.is_some())
            .finish_non_exhaustive()
    }
}
