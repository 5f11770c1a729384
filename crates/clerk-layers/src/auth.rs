//! Authentication and the fixed Clerk headers.
//!
//! * [`AuthLayer`] sets `Authorization: Bearer <secret key>` on every request,
//!   replacing any existing value. The header value is built once and marked
//!   sensitive (`HeaderValue::set_sensitive`), so `Debug` of the request and
//!   header-logging layers that honour the flag (tower-http's) print it as
//!   `Sensitive`; the layer's own `Debug` shows only the key's prefix. A key that
//!   cannot be a header value (control characters) or is empty makes every call
//!   fail with an invalid-request error instead of sending; [`AuthLayer::try_new`]
//!   reports it up front.
//! * [`ClerkHeadersLayer`] adds `Clerk-API-Version` (its
//!   [`api_version`](ClerkHeadersLayer::api_version), default
//!   [`ApiVersion::DEFAULT`](clerk_core::ApiVersion::DEFAULT)) and
//!   `User-Agent: clerk-tower/<version>` when the request has none. It is a
//!   separate layer so a stack that authenticates differently (a proxy adding the
//!   key) still gets them.
//!
//! Where they go, and why: [the default stack](crate#the-default-stack).
//!
//! # Example
//!
//! ```
//! use clerk_core::{Body, Error, SecretKey};
//! use clerk_layers::auth::{AuthLayer, ClerkHeadersLayer};
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let service = ServiceBuilder::new()
//!     .layer(ClerkHeadersLayer::new())
//!     .layer(AuthLayer::new(SecretKey::new("sk_test_example")))
//!     .service(service_fn(|req: Request<Body>| async move {
//!         let auth = &req.headers()[http::header::AUTHORIZATION];
//!         assert!(auth.is_sensitive());
//!         assert_eq!(req.headers()["clerk-api-version"], clerk_core::API_VERSION);
//!         Ok::<_, Error>(Response::new(Body::empty()))
//!     }));
//! service
//!     .oneshot(Request::get("http://127.0.0.1/v1/users").body(Body::empty()).unwrap())
//!     .await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use clerk_core::{ApiVersion, Error, SecretKey};
use http::Request;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue, USER_AGENT};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The `User-Agent` sent when the request has none.
pub const USER_AGENT_VALUE: &str = concat!("clerk-tower/", env!("CARGO_PKG_VERSION"));

/// The `Clerk-API-Version` header name.
pub const CLERK_API_VERSION: HeaderName = HeaderName::from_static("clerk-api-version");

/// Sets `Authorization: Bearer <key>`, marked sensitive. See the [module docs](self).
///
/// Cloning the layer or its service is one reference count: the stack clones its
/// services on every call.
#[derive(Clone)]
pub struct AuthLayer {
    config: Arc<AuthConfig>,
}

struct AuthConfig {
    key: SecretKey,
    header: Result<HeaderValue, &'static str>,
}

impl AuthLayer {
    /// A layer authenticating with `key`. An unusable key (empty, or with
    /// characters a header cannot hold) fails every call with an error.
    pub fn new(key: SecretKey) -> Self {
        let header = if key.is_empty() {
            Err("the Clerk secret key is empty")
        } else {
            match HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    Ok(value)
                }
                Err(_) => Err("the Clerk secret key contains characters not allowed in a header"),
            }
        };
        Self {
            config: Arc::new(AuthConfig { key, header }),
        }
    }

    /// Like [`AuthLayer::new`], but reports an unusable key now.
    pub fn try_new(key: SecretKey) -> Result<Self, Error> {
        let layer = Self::new(key);
        match &layer.config.header {
            Ok(_) => Ok(layer),
            Err(message) => Err(Error::invalid_request(*message)),
        }
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("key", &self.config.key)
            .finish()
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Auth<S> {
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

impl<S, B> Service<Request<B>> for Auth<S>
where
    S: Service<Request<B>>,
    S::Error: Into<Error>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match &self.layer.config.header {
            Ok(value) => {
                request.headers_mut().insert(AUTHORIZATION, value.clone());
                ResponseFuture {
                    state: State::Inner {
                        future: self.inner.call(request),
                    },
                }
            }
            Err(message) => ResponseFuture {
                state: State::Invalid {
                    message: Some(*message),
                },
            },
        }
    }
}

pin_project! {
    /// Response future of [`Auth`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Inner { #[pin] future: F },
        Invalid { message: Option<&'static str> },
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Error>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx).map_err(Into::into),
            StateProj::Invalid { message } => {
                let message = message.take().unwrap_or("the Clerk secret key is unusable");
                Poll::Ready(Err(Error::invalid_request(message)))
            }
        }
    }
}

/// Adds `Clerk-API-Version` and `User-Agent` unless already set. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct ClerkHeadersLayer {
    values: Arc<ClerkHeaderValues>,
}

/// Shared by the layer and its services, so cloning a service (the stack does on
/// every call) is one reference count.
#[derive(Clone, Debug)]
struct ClerkHeaderValues {
    user_agent: HeaderValue,
    api_version: HeaderValue,
}

impl ClerkHeadersLayer {
    /// With `User-Agent: clerk-tower/<version>` and [`ApiVersion::DEFAULT`].
    pub fn new() -> Self {
        Self {
            values: Arc::new(ClerkHeaderValues {
                user_agent: HeaderValue::from_static(USER_AGENT_VALUE),
                api_version: HeaderValue::from_static(ApiVersion::DEFAULT.as_str()),
            }),
        }
    }

    /// With another `Clerk-API-Version`.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        Arc::make_mut(&mut self.values).api_version = HeaderValue::from_static(version.as_str());
        self
    }

    /// With another `User-Agent` (e.g. `my-sync-job/1.2 clerk-tower/0.1`).
    /// Fails if the value cannot be a header value.
    pub fn with_user_agent(mut self, user_agent: &str) -> Result<Self, Error> {
        Arc::make_mut(&mut self.values).user_agent = HeaderValue::from_str(user_agent)
            .map_err(|_| Error::invalid_request("the user agent is not a valid header value"))?;
        Ok(self)
    }
}

impl Default for ClerkHeadersLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for ClerkHeadersLayer {
    type Service = ClerkHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClerkHeaders {
            inner,
            values: Arc::clone(&self.values),
        }
    }
}

/// The service of [`ClerkHeadersLayer`].
#[derive(Clone, Debug)]
pub struct ClerkHeaders<S> {
    inner: S,
    values: Arc<ClerkHeaderValues>,
}

impl<S> ClerkHeaders<S> {
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

impl<S, B> Service<Request<B>> for ClerkHeaders<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let headers = request.headers_mut();
        if headers.is_empty() {
            // Nothing to keep (a typed call's request): plain inserts, cheaper
            // than the entry API's probe.
            headers.insert(CLERK_API_VERSION, self.values.api_version.clone());
            headers.insert(USER_AGENT, self.values.user_agent.clone());
        } else {
            // One lookup each, whether the header is there or not.
            headers
                .entry(CLERK_API_VERSION)
                .or_insert_with(|| self.values.api_version.clone());
            headers
                .entry(USER_AGENT)
                .or_insert_with(|| self.values.user_agent.clone());
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clerk_core::Body;
    use http::Response;
    use tower::{ServiceExt, service_fn};

    fn echo() -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Error,
        Future = impl Future<Output = Result<Response<Body>, Error>>,
    > + Clone {
        service_fn(|req: Request<Body>| async move {
            let mut response = Response::new(Body::empty());
            *response.headers_mut() = req.headers().clone();
            Ok::<_, Error>(response)
        })
    }

    fn request() -> Request<Body> {
        Request::get("http://127.0.0.1/v1/users")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn sets_a_sensitive_bearer_header_and_hides_the_key() {
        let layer = AuthLayer::new(SecretKey::new("sk_live_SECRETVALUE"));
        assert!(!format!("{layer:?}").contains("SECRETVALUE"));
        assert!(!format!("{:?}", layer.layer(())).contains("SECRETVALUE"));
        let service = layer.layer(echo());
        let mut req = request();
        req.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("Bearer other"));
        let response = service.oneshot(req).await.unwrap();
        let value = &response.headers()[AUTHORIZATION];
        assert_eq!(value, "Bearer sk_live_SECRETVALUE");
        assert!(value.is_sensitive());
        assert!(!format!("{:?}", response.headers()).contains("SECRETVALUE"));
    }

    #[tokio::test]
    async fn an_unusable_key_is_an_error_not_a_panic() {
        for bad in ["", "sk_live_a\u{7}b"] {
            assert!(AuthLayer::try_new(SecretKey::new(bad)).is_err());
            let err = AuthLayer::new(SecretKey::new(bad))
                .layer(echo())
                .oneshot(request())
                .await
                .unwrap_err();
            assert!(err.is_invalid_request());
            assert!(!err.to_string().contains("sk_live_a"));
        }
    }

    #[tokio::test]
    async fn adds_clerk_headers_unless_present() {
        let response = ClerkHeadersLayer::new()
            .layer(echo())
            .oneshot(request())
            .await
            .unwrap();
        assert_eq!(
            response.headers()[CLERK_API_VERSION],
            clerk_core::API_VERSION
        );
        assert_eq!(response.headers()[USER_AGENT], USER_AGENT_VALUE);

        let mut req = request();
        req.headers_mut()
            .insert(USER_AGENT, HeaderValue::from_static("mine/1"));
        let response = ClerkHeadersLayer::new()
            .layer(echo())
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(response.headers()[USER_AGENT], "mine/1");
        assert!(
            ClerkHeadersLayer::new()
                .with_user_agent("bad\nagent")
                .is_err()
        );
        let response = ClerkHeadersLayer::new()
            .api_version(ApiVersion::V2026_05_12)
            .layer(echo())
            .oneshot(request())
            .await
            .unwrap();
        assert_eq!(response.headers()[CLERK_API_VERSION], "2026-05-12");
    }
}
