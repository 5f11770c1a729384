//! [`ClerkBuilder`]: the default stack and its knobs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use clerk_core::{ApiVersion, BaseUrl, ClerkRequest, ClerkResponse, Error, SecretKey};
use clerk_layers::ServiceBuilderExt;
use clerk_layers::auth::{AuthLayer, ClerkHeadersLayer};
use clerk_layers::concurrency::DEFAULT_MAX_IN_FLIGHT;
use clerk_layers::rate_limit::{Quota, RateLimitLayer, RateLimiter};
use clerk_layers::retry::RetryPolicy;
use clerk_layers::timeout::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OPERATION_TIMEOUT};
use clerk_transport::Transport;
use tower::Service;
use tower::util::{BoxCloneSyncService, Either};
use tower::{Layer, ServiceBuilder};

use crate::client::{Clerk, ClerkService};
use clerk_layers::metrics::Metrics;

/// Environment variable the secret key is read from when none is given.
pub const SECRET_KEY_ENV: &str = "CLERK_SECRET_KEY";
/// Environment variable the base URL is read from when none is given.
pub const API_URL_ENV: &str = "CLERK_API_URL";

type LayerFn = Arc<dyn Fn(ClerkService) -> ClerkService + Send + Sync>;

#[derive(Clone)]
enum RateLimitSetting {
    /// From the secret key's instance type.
    Auto,
    Quota(Quota),
    Shared(RateLimiter),
    Off,
}

/// Builds a [`Clerk`] client over the default stack.
///
/// The stack is clerk-layers' [default stack](crate::layers#the-default-stack),
/// assembled with its [`ServiceBuilderExt`](crate::layers::ServiceBuilderExt);
/// the order of the layers, and why each sits where it does, is written there.
/// Every layer is one you can also use on its own. The knobs:
///
/// | knob | what it sets | default |
/// |---|---|---|
/// | [`secret_key`](Self::secret_key), [`base_url`](Self::base_url) | where to and as whom | `CLERK_SECRET_KEY`, `CLERK_API_URL` or `https://api.clerk.com/v1` |
/// | [`operation_timeout`](Self::operation_timeout) | the deadline of a call, retries and waits included | 60 s |
/// | [`max_attempts`](Self::max_attempts), [`retry_policy`](Self::retry_policy) | retries of 429, 5xx and network failures, honouring `Retry-After`; a user creation only when it provably did nothing | 4 attempts |
/// | [`quota`](Self::quota), [`rate_limiter`](Self::rate_limiter), [`no_rate_limit`](Self::no_rate_limit) | the instance quota, with the shared 429 cooldown | from the key: 1000 per 10 s for `sk_live_`, 100 per 10 s for `sk_test_` |
/// | [`per_user_limit`](Self::per_user_limit) | Clerk's 10 per 10 s per user on user updates | on |
/// | [`max_in_flight`](Self::max_in_flight) | requests in flight, across clones | 64 |
/// | [`attempt_timeout`](Self::attempt_timeout) | the deadline of one attempt | 10 s |
/// | [`api_version`](Self::api_version) | the `Clerk-API-Version` sent, and what the client refuses under it | [`ApiVersion::DEFAULT`] (2025-11-10) |
/// | [`attempt_layer`](Self::attempt_layer) | your layers on every attempt, in the order given (first is outermost), above the auth layer | none |
/// | [`connect_timeout`](Self::connect_timeout), [`max_response_body`](Self::max_response_body), [`transport`](Self::transport) | the hyper + rustls transport, or yours | 5 s, 8 MiB |
///
/// The client's [`metrics`](Clerk::metrics) come from the stack's metrics layer.
///
/// ```no_run
/// # fn run() -> Result<(), clerk_tower::Error> {
/// use std::time::Duration;
/// use clerk_tower::{Clerk, layers::rate_limit::Quota};
///
/// let clerk = Clerk::builder()
///     .secret_key("sk_live_...")
///     .quota(Quota::production().with_headroom(0.1)?) // keep 10 % free for other clients of the key
///     .max_attempts(5)
///     .attempt_timeout(Duration::from_secs(5))
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use]
#[derive(Clone)]
pub struct ClerkBuilder {
    secret_key: Option<SecretKey>,
    base_url: Option<String>,
    rate_limit: RateLimitSetting,
    per_user_limit: bool,
    retry_policy: RetryPolicy,
    attempt_timeout: Duration,
    operation_timeout: Duration,
    connect_timeout: Option<Duration>,
    max_in_flight: usize,
    max_response_body: Option<usize>,
    transport: Option<ClerkService>,
    attempt_layers: Vec<LayerFn>,
    api_version: ApiVersion,
}

impl Default for ClerkBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClerkBuilder {
    /// A builder with the defaults listed on the type.
    pub fn new() -> Self {
        Self {
            secret_key: None,
            base_url: None,
            rate_limit: RateLimitSetting::Auto,
            per_user_limit: true,
            retry_policy: RetryPolicy::new(),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            connect_timeout: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_response_body: None,
            transport: None,
            attempt_layers: Vec::new(),
            api_version: ApiVersion::DEFAULT,
        }
    }

    /// The API version to ask for (`Clerk-API-Version`). Default:
    /// [`ApiVersion::DEFAULT`] (2025-11-10). Under
    /// [`ApiVersion::V2026_05_12`] the client refuses metadata on `UpdateUser`
    /// (use `update_metadata` or `replace_metadata`); under
    /// [`ApiVersion::V2025_04_10`] it refuses the password-compromised operations.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// The secret key (`sk_live_…` / `sk_test_…`). Default: `CLERK_SECRET_KEY`.
    pub fn secret_key(mut self, key: impl Into<SecretKey>) -> Self {
        self.secret_key = Some(key.into());
        self
    }

    /// The API's base URL, with or without `/v1`. Default: `CLERK_API_URL`, else
    /// `https://api.clerk.com/v1`. Plain `http` is accepted for loopback hosts only.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The instance-wide request quota (see [`Quota`]). Default: from the key's
    /// instance type.
    pub fn quota(mut self, quota: Quota) -> Self {
        self.rate_limit = RateLimitSetting::Quota(quota);
        self
    }

    /// Shares an existing limiter, so several clients of one Clerk instance draw
    /// from one quota.
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.rate_limit = RateLimitSetting::Shared(limiter);
        self
    }

    /// Turns proactive rate limiting off (429s are still retried).
    pub fn no_rate_limit(mut self) -> Self {
        self.rate_limit = RateLimitSetting::Off;
        self
    }

    /// Whether to pace user updates to Clerk's 10 per 10 s per user. Default: on.
    /// Off, updates to one user wait only for the instance quota (and a server
    /// that enforces the per-user limit answers the excess with 429s). A limiter
    /// passed with [`rate_limiter`](Self::rate_limiter) keeps its own setting
    /// ([`RateLimiter::without_per_user_limit`]).
    pub fn per_user_limit(mut self, enabled: bool) -> Self {
        self.per_user_limit = enabled;
        self
    }

    /// Attempts per call, the first included (1 turns retries off). Default: 4.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry_policy = self.retry_policy.with_max_attempts(attempts);
        self
    }

    /// The whole retry policy (attempts, delays, `Retry-After` cap, budget).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Deadline of one attempt. Default: 10 s.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Deadline of a whole call, retries and waits included. Default: 60 s.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// TCP + TLS connect deadline of the default transport. Default: 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Requests in flight at most, across clones. Default: 64.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// Largest response body accepted by the default transport. Default: 8 MiB.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = Some(bytes);
        self
    }

    /// Replaces the transport (the default is [`Transport`]): a mock in tests, or
    /// your own connector.
    pub fn transport<T>(mut self, transport: T) -> Self
    where
        T: Service<ClerkRequest, Response = ClerkResponse, Error = Error>
            + Clone
            + Send
            + Sync
            + 'static,
        T::Future: Send + 'static,
    {
        self.transport = Some(BoxCloneSyncService::new(transport));
        self
    }

    /// Adds your own layer to every attempt, above the auth layer, so it never
    /// sees the `Authorization` header (its place: [the default
    /// stack](crate::layers#the-default-stack)). Layers added first are outermost.
    pub fn attempt_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<ClerkService> + Send + Sync + 'static,
        L::Service: Service<ClerkRequest, Response = ClerkResponse, Error = Error>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<ClerkRequest>>::Future: Send + 'static,
    {
        self.attempt_layers.push(Arc::new(move |inner| {
            BoxCloneSyncService::new(layer.layer(inner))
        }));
        self
    }

    /// Builds the client. Fails when no secret key is given or set in
    /// `CLERK_SECRET_KEY` (or it cannot go into a header), when the base URL is invalid or is plain `http` to a
    /// host that is not loopback, or when the transport cannot be built.
    pub fn build(self) -> Result<Clerk, Error> {
        let secret_key = match self.secret_key {
            Some(key) => key,
            None => std::env::var(SECRET_KEY_ENV).map(SecretKey::new).map_err(|_| {
                Error::invalid_request(
                    "no Clerk secret key: pass one to ClerkBuilder::secret_key or set CLERK_SECRET_KEY",
                )
            })?,
        };
        if secret_key.is_empty() {
            return Err(Error::invalid_request("the Clerk secret key is empty"));
        }
        let base_url = match self.base_url.or_else(|| std::env::var(API_URL_ENV).ok()) {
            Some(url) => BaseUrl::parse(&url)?,
            None => BaseUrl::default(),
        };
        if base_url.scheme() == &http::uri::Scheme::HTTP && !base_url.is_loopback() {
            return Err(Error::invalid_request(format!(
                "refusing plain http to {}: the secret key must not travel in clear; use https",
                base_url.host()
            )));
        }

        // The default transport and an empty list of attempt layers stay concrete
        // types: each boxed service costs an allocation per clone, and the stack
        // clones its inner services on every call.
        let transport = match self.transport {
            Some(custom) => Either::Right(custom),
            None => {
                let mut builder = Transport::builder();
                if let Some(timeout) = self.connect_timeout {
                    builder = builder.connect_timeout(timeout);
                }
                if let Some(bytes) = self.max_response_body {
                    builder = builder.max_response_body(bytes);
                }
                Either::Left(builder.build()?)
            }
        };
        // Checked here so a key that cannot be a header fails the build, not every call.
        AuthLayer::try_new(secret_key.clone())?;
        let rate_limiter = match self.rate_limit {
            RateLimitSetting::Auto => Some(new_limiter(
                Quota::for_key(&secret_key),
                self.per_user_limit,
            )),
            RateLimitSetting::Quota(quota) => Some(new_limiter(quota, self.per_user_limit)),
            RateLimitSetting::Shared(limiter) => Some(limiter),
            RateLimitSetting::Off => None,
        };
        let authenticated = ServiceBuilder::new()
            .layer(ClerkHeadersLayer::new().api_version(self.api_version))
            .clerk_auth(secret_key)
            .service(transport);
        let attempt_stack = if self.attempt_layers.is_empty() {
            Either::Left(authenticated)
        } else {
            let boxed = BoxCloneSyncService::new(authenticated);
            Either::Right(
                self.attempt_layers
                    .iter()
                    .rev()
                    .fold(boxed, |inner, layer| layer(inner)),
            )
        };
        let metrics = Metrics::default();
        // The order is clerk-layers' default stack (see its crate docs); the rate
        // limit is optional (`no_rate_limit`), hence tower's `option_layer`.
        let stack = ServiceBuilder::new()
            .clerk_trace()
            .clerk_operation_timeout(self.operation_timeout)
            .clerk_retry(self.retry_policy)
            .clerk_trace_attempt()
            .clerk_metrics(metrics.clone())
            .option_layer(rate_limiter.clone().map(RateLimitLayer::new))
            .clerk_global_concurrency_limit(self.max_in_flight)
            .clerk_attempt_timeout(self.attempt_timeout)
            .service(attempt_stack);
        Ok(Clerk::with_parts(
            BoxCloneSyncService::new(stack),
            base_url,
            metrics,
            rate_limiter,
            self.api_version,
        ))
    }
}

fn new_limiter(quota: Quota, per_user_limit: bool) -> RateLimiter {
    let limiter = RateLimiter::new(quota);
    if per_user_limit {
        limiter
    } else {
        limiter.without_per_user_limit()
    }
}

impl fmt::Debug for ClerkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkBuilder")
            .field("secret_key", &self.secret_key)
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("per_user_limit", &self.per_user_limit)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("custom_transport", &self.transport.is_some())
            .field("attempt_layers", &self.attempt_layers.len())
            .finish_non_exhaustive()
    }
}
