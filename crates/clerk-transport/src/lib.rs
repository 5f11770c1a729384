//! Transport for the Clerk client: a [`tower_service::Service`] over hyper 1 and
//! hyper-util's pooled client, with rustls (ring provider, webpki roots) for https.
//!
//! [`Transport`] takes an [`http::Request<clerk_core::Body>`] with an absolute URI
//! and answers an [`http::Response<clerk_core::Body>`] whose body is fully read,
//! under a size cap. It is the innermost service of the Clerk stack: the facade
//! puts authentication, retries, timeouts and rate limiting on top of it.
//!
//! - HTTP/1.1 and HTTP/2: over TLS the protocol is chosen by ALPN (`h2`, `http/1.1`);
//!   plain http speaks HTTP/1.1 unless [`TransportBuilder::http2_only`] is set.
//! - Connections are pooled and kept alive; idle ones are closed after
//!   [`TransportBuilder::pool_idle_timeout`].
//! - Plain `http://` is refused for any host that is not loopback, so the secret key
//!   never travels in clear; `https://` is used everywhere else.
//! - The transport has no request timeout of its own (only a connect timeout that
//!   covers DNS, TCP and the TLS handshake): put a `tower::timeout` layer above it.
//!
//! Errors are [`clerk_core::Error`]s: [`Error::is_connect`] when the request was
//! provably not sent (refused, DNS, TLS handshake, connect timeout),
//! [`Error::is_transport`] when the connection broke afterwards,
//! [`Error::is_body_too_large`] when the answer exceeds the cap, and
//! [`Error::is_invalid_request`] for a URI the transport refuses to send.
//!
//! ```no_run
//! use clerk_core::Body;
//! use clerk_transport::Transport;
//! use tower::ServiceExt;
//!
//! # async fn run() -> Result<(), clerk_core::Error> {
//! let transport = Transport::builder()
//!     .connect_timeout(std::time::Duration::from_secs(3))
//!     .max_response_body(4 * 1024 * 1024)
//!     .build()?;
//! let request = http::Request::get("https://api.clerk.com/v1/users/count")
//!     .header("authorization", "Bearer sk_test_…")
//!     .body(Body::empty())
//!     .map_err(|e| clerk_core::Error::invalid_request(e.to_string()))?;
//! let response = transport.oneshot(request).await?;
//! println!("{} {} bytes", response.status(), response.body().len());
//! # Ok(())
//! # }
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use clerk_core::{BoxError, ClerkRequest, ClerkResponse, Error, is_loopback_host};
use http::{Method, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tower_service::Service;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const DEFAULT_MAX_RESPONSE_BODY: usize = 8 * 1024 * 1024;

/// The pooled HTTP/1.1 + HTTP/2 client service of the Clerk stack.
///
/// Cloning is cheap (one reference count) and every clone shares the same
/// connection pool. `poll_ready` is always ready: the pool has no capacity limit,
/// concurrency is limited by the layers above.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client<TimeoutConnector, clerk_core::Body>,
    config: Config,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    max_response_body: usize,
    http2_only: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: usize::MAX,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            http2_only: false,
        }
    }
}

impl Transport {
    /// A builder with the defaults: 5 s connect timeout, 90 s idle timeout, no
    /// limit on idle connections per host, 8 MiB response cap, HTTP/1.1 and HTTP/2.
    pub fn builder() -> TransportBuilder {
        TransportBuilder::default()
    }

    /// A transport with the default configuration.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// The largest response body this transport reads, in bytes.
    pub fn max_response_body(&self) -> usize {
        self.inner.config.max_response_body
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Service<ClerkRequest> for Transport {
    type Response = ClerkResponse;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ClerkRequest) -> ResponseFuture {
        if let Err(err) = check_destination(request.uri()) {
            return ResponseFuture::new(async move { Err(err) });
        }
        let limit = self.inner.config.max_response_body;
        let is_head = request.method() == Method::HEAD;
        let sending = self.inner.client.request(request);
        ResponseFuture::new(async move {
            let response = sending.await.map_err(map_client_error)?;
            read_body(response, limit, is_head).await
        })
    }
}

/// The future of [`Transport::call`]: the response with its body read.
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<ClerkResponse, Error>> + Send + 'static>>,
}

impl ResponseFuture {
    fn new(future: impl Future<Output = Result<ClerkResponse, Error>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<ClerkResponse, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// Configures and builds a [`Transport`]; from [`Transport::builder`].
#[derive(Clone, Debug, Default)]
pub struct TransportBuilder {
    config: Config,
}

impl TransportBuilder {
    /// How long DNS resolution, the TCP connect and the TLS handshake of a new
    /// connection may take together (default 5 s). Must not be zero.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long an unused pooled connection is kept open (default 90 s).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.pool_idle_timeout = timeout;
        self
    }

    /// How many idle connections are kept per host (default: no limit).
    /// `0` disables keep-alive reuse.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.config.pool_max_idle_per_host = max;
        self
    }

    /// The largest response body read, in bytes (default 8 MiB). A larger one fails
    /// with [`Error::is_body_too_large`] without being buffered.
    pub fn max_response_body(mut self, limit: usize) -> Self {
        self.config.max_response_body = limit;
        self
    }

    /// Speak only HTTP/2 (default `false`): over TLS only `h2` is offered by ALPN;
    /// plain http to loopback uses HTTP/2 with prior knowledge (h2c).
    pub fn http2_only(mut self, enabled: bool) -> Self {
        self.config.http2_only = enabled;
        self
    }

    /// Builds the transport: rustls with the ring provider and the webpki roots,
    /// `TCP_NODELAY` on, the pool timer set so idle connections are really closed.
    ///
    /// Fails with [`Error::is_invalid_request`] on a zero connect timeout.
    pub fn build(self) -> Result<Transport, Error> {
        let config = self.config;
        if config.connect_timeout.is_zero() {
            return Err(Error::invalid_request("connect timeout must not be zero"));
        }

        let mut http = HttpConnector::new();
        // The https connector below decides per scheme; the http one must accept both.
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));

        // The provider is passed explicitly, so no process-wide default is needed and
        // another crate enabling aws-lc-rs cannot make rustls panic on an ambiguous one.
        let builder = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| Error::invalid_request(format!("TLS configuration: {e}")))?
            .https_or_http();
        let https = if config.http2_only {
            builder.enable_http2().wrap_connector(http)
        } else {
            builder.enable_http1().enable_http2().wrap_connector(http)
        };
        let connector = TimeoutConnector {
            inner: https,
            timeout: config.connect_timeout,
        };

        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            // Without a pool timer hyper 1 never evicts idle connections.
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http2_only(config.http2_only)
            .build(connector);
        Ok(Transport {
            inner: Arc::new(Inner { client, config }),
        })
    }
}

/// Plain http only to loopback; https everywhere; nothing else.
fn check_destination(uri: &Uri) -> Result<(), Error> {
    let Some(host) = uri.host() else {
        return Err(Error::invalid_request(
            "request URI must be absolute (scheme and host)",
        ));
    };
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback_host(host) => Ok(()),
        Some("http") => Err(Error::invalid_request(format!(
            "refusing to send the request over plain http to non-loopback host {host}: use https"
        ))),
        Some(other) => Err(Error::invalid_request(format!(
            "unsupported URI scheme {other:?}: only https, or http to a loopback host"
        ))),
        None => Err(Error::invalid_request(
            "request URI must be absolute (scheme and host)",
        )),
    }
}

fn map_client_error(err: hyper_util::client::legacy::Error) -> Error {
    if err.is_connect() {
        Error::connect(Chain::new(Box::new(err), true))
    } else {
        Error::transport(Chain::new(Box::new(err), true))
    }
}

async fn read_body(
    response: http::Response<Incoming>,
    limit: usize,
    is_head: bool,
) -> Result<ClerkResponse, Error> {
    let (parts, body) = response.into_parts();
    // A declared length over the cap fails before a single byte is read.
    if !is_head {
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(Error::body_too_large(limit));
        }
    }
    let collected = Limited::new(body, limit).collect().await.map_err(|err| {
        if err.is::<LengthLimitError>() {
            Error::body_too_large(limit)
        } else {
            Error::transport(Chain::new(err, false))
        }
    })?;
    let bytes: Bytes = collected.to_bytes();
    Ok(http::Response::from_parts(parts, bytes.into()))
}

/// A source error whose `Display` spells out its whole chain, so that
/// `clerk_core::Error`'s message says "Connection refused" rather than
/// "client error (Connect)". None of hyper's errors carry request headers.
struct Chain {
    message: String,
    source: BoxError,
}

impl Chain {
    /// `skip_top` drops a top level that says nothing the error kind does not
    /// (hyper-util's "client error (Connect)") when it has causes.
    fn new(err: BoxError, skip_top: bool) -> Self {
        let mut parts: Vec<String> = Vec::new();
        let mut next: Option<&(dyn StdError + 'static)> = match err.source() {
            Some(cause) if skip_top => Some(cause),
            _ => Some(&*err),
        };
        while let Some(cause) = next {
            let text = cause.to_string();
            if parts.last() != Some(&text) {
                parts.push(text);
            }
            next = cause.source();
        }
        Self {
            message: parts.join(": "),
            source: err,
        }
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Chain {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// The https-or-http connector with one deadline over DNS, TCP and TLS: hyper's
/// own connect timeout stops at TCP, and a silent peer would hang the handshake.
#[derive(Clone)]
struct TimeoutConnector {
    inner: HttpsConnector<HttpConnector>,
    timeout: Duration,
}

type Connection = MaybeHttpsStream<TokioIo<TcpStream>>;

impl Service<Uri> for TimeoutConnector {
    type Response = Connection;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Connection, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(ConnectTimeout(timeout)) as BoxError),
            }
        })
    }
}

#[derive(Debug)]
struct ConnectTimeout(Duration);

impl fmt::Display for ConnectTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connect timed out after {:?}", self.0)
    }
}

impl StdError for ConnectTimeout {}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn destinations() {
        for ok in [
            "https://api.clerk.com/v1/users",
            "http://127.0.0.1:1/v1",
            "http://127.9.9.9/",
            "http://localhost:8080/x",
            "http://LOCALHOST/x",
            "http://[::1]:80/",
        ] {
            assert!(check_destination(&uri(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/v1/users",
            "http://10.0.0.1/",
            "http://127.0.0.1.nip.io/",
            "http://localhost.example.com/",
            "http://127.0.0.1@example.com/",
            "ftp://127.0.0.1/",
            "/v1/users",
        ] {
            let err = check_destination(&uri(bad)).unwrap_err();
            assert!(err.is_invalid_request(), "{bad}: {err}");
        }
        let err = check_destination(&uri("http://example.com/")).unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        assert!(err.to_string().contains("example.com"), "{err}");
    }

    #[test]
    fn zero_connect_timeout_is_refused() {
        let err = Transport::builder()
            .connect_timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(err.is_invalid_request());
    }

    #[test]
    fn transport_is_send_sync_and_future_is_send() {
        fn send_sync<T: Send + Sync + 'static>() {}
        fn send<T: Send + 'static>() {}
        send_sync::<Transport>();
        send::<ResponseFuture>();
    }

    #[test]
    fn debug_shows_the_config() {
        let builder = Transport::builder().max_response_body(1234);
        assert!(format!("{builder:?}").contains("1234"));
        // Building needs no runtime: the client spawns nothing until the first call.
        let transport = builder.build().unwrap();
        let shown = format!("{transport:?}");
        assert!(shown.contains("max_response_body: 1234"), "{shown}");
        assert!(shown.contains("connect_timeout: 5s"), "{shown}");
        assert_eq!(transport.max_response_body(), 1234);
    }
}
