//! The HTTP server: each accepted connection is served by hyper's HTTP/1.1 connection with a
//! service that can drop the connection on purpose (`reset`, `lost_response`).
//!
//! What a client can hold is bounded: at most `max_connections` connections are served at once
//! (beyond that a new connection gets a 503 and is closed at once, so slow clients cannot use up
//! the file descriptors healthy ones need), a request head must arrive within `header_timeout`
//! (hyper's timer, which also closes idle keep-alive connections), and a body within
//! `body_timeout` of the server reading it (408, connection closed). Each kind of event gets
//! one log line per burst, not one per connection.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::api::{self, IMAGE_LIMIT, route};
use crate::app::App;
use crate::config::{Config, FaultKind, FaultSpec};
use crate::connections::{BurstLog, ReadDeadline};
use crate::error::ApiError;
use crate::faults::{ApplyAfter, Fault, WRONG_OBJECT_BODY, bad_body};
use crate::op::Op;
use crate::stats::Stats;

/// How long a shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

async fn entry(State(app): State<Arc<App>>, req: Request<Body>) -> Response {
    if req.uri().path().starts_with("/_emulator/") {
        api::control::handle(app, req).await
    } else {
        api::serve_v1(app, req).await
    }
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .fallback(entry)
        .with_state(app)
        // Multipart reads enforce this; JSON bodies are capped lower by `read_body`.
        .layer(DefaultBodyLimit::max(IMAGE_LIMIT + 64 * 1024))
}

/// The service error that makes hyper close the connection without a response.
#[derive(Debug)]
struct DropConnection(FaultKind);

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "injected fault: {}", self.0)
    }
}

impl std::error::Error for DropConnection {}

/// What one connection may hold, and the burst logs of what was cut.
#[derive(Debug)]
struct ConnectionLimits {
    header_timeout: Duration,
    body_timeout: Duration,
    max_connections: usize,
    header_timeouts: BurstLog,
    body_timeouts: BurstLog,
}

impl ConnectionLimits {
    fn new(config: &Config) -> Self {
        Self {
            header_timeout: config.header_timeout,
            body_timeout: config.body_timeout,
            max_connections: config.max_connections,
            header_timeouts: BurstLog::default(),
            body_timeouts: BurstLog::default(),
        }
    }
}

/// The answer to a connection over `max_connections`, written without waiting (best effort:
/// the client may see a reset instead), then the connection is closed.
static CONNECTION_LIMIT_RESPONSE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = ApiError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        "Service unavailable",
        "The emulator has too many open connections (--max-connections); retry shortly.",
    )
    .body_json()
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

#[derive(Clone)]
struct FaultService {
    app: Arc<App>,
    router: Router,
    limits: Arc<ConnectionLimits>,
}

impl tower::Service<Request<Incoming>> for FaultService {
    type Response = Response;
    type Error = DropConnection;
    type Future = Pin<Box<dyn Future<Output = Result<Response, DropConnection>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let app = Arc::clone(&self.app);
        let router = self.router.clone();
        let limits = Arc::clone(&self.limits);
        Box::pin(async move {
            let timed_out = Arc::new(AtomicBool::new(false));
            let req = req.map(|body| {
                Body::new(ReadDeadline::new(
                    body,
                    limits.body_timeout,
                    Arc::clone(&timed_out),
                ))
            });
            let control = req.uri().path().starts_with("/_emulator/");
            let res = respond(&app, router, req).await;
            if !timed_out.load(Ordering::Relaxed) {
                if let (Ok(res), false) = (&res, control) {
                    app.counters.status(res.status().as_u16());
                }
                return res;
            }
            if let Some(n) = limits.body_timeouts.hit(Instant::now()) {
                tracing::warn!(
                    requests = n,
                    timeout = ?limits.body_timeout,
                    "request body not received within the body timeout: answered 408 and closed \
                     the connection (--body-timeout; one line per burst, `requests` counts since \
                     the last one)"
                );
            }
            let mut res = ApiError::request_timeout().into_response();
            res.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            if !control {
                app.counters.status(res.status().as_u16());
            }
            Ok(res)
        })
    }
}

/// Routes one request through faults, latency and the router.
async fn respond(
    app: &Arc<App>,
    router: Router,
    req: Request<Body>,
) -> Result<Response, DropConnection> {
    let oneshot = |router: Router, req| async move {
        match router.oneshot(req).await {
            Ok(res) => res,
            Err(e) => match e {},
        }
    };
    if req.uri().path().starts_with("/_emulator/") {
        return Ok(oneshot(router, req).await);
    }
    let mut req = req;
    let routed = route::route(req.method(), req.uri().path());
    let op = routed.as_ref().ok().map(|(op, _)| *op);
    req.extensions_mut().insert(api::Routed(routed));
    // Counted on arrival, before latency and faults, so a request is visible in the
    // stats while it is in flight.
    app.counters.request(op);
    let (latency, fault) = app.faults.decide(op.map(Op::name));
    // The latency is served after the request is handled, not before: Clerk
    // counts a request against its rate limit when it arrives, and a delay in
    // front of the limiter would reorder arrivals by up to the latency spread.
    let delay = || async {
        if let Some(d) = latency {
            tokio::time::sleep(d).await;
        }
    };
    let res = match fault {
        None => {
            let res = oneshot(router, req).await;
            delay().await;
            res
        }
        Some(fault) => {
            app.counters.fault(fault.kind());
            match fault {
                Fault::Reset => {
                    delay().await;
                    return Err(DropConnection(FaultKind::Reset));
                }
                Fault::LostResponse => {
                    // Applied in full (the handler finishes), then the answer is lost.
                    let _ = oneshot(router, req).await;
                    delay().await;
                    return Err(DropConnection(FaultKind::LostResponse));
                }
                Fault::ServerError(status) => {
                    delay().await;
                    let status = http::StatusCode::from_u16(status)
                        .unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE);
                    ApiError::server_error(status).into_response()
                }
                Fault::TooManyRequests(secs) => {
                    delay().await;
                    ApiError::too_many_requests(secs).into_response()
                }
                Fault::SlowApply(after) => {
                    // Its own task: the client's timeout closes the connection
                    // and drops this future, and the request must land anyway.
                    req.extensions_mut().insert(ApplyAfter(after));
                    let applied = tokio::spawn(oneshot(router, req));
                    let res = applied
                        .await
                        .map_err(|_| DropConnection(FaultKind::SlowApply))?;
                    delay().await;
                    res
                }
                Fault::BadBody { truncated } => {
                    let res = oneshot(router, req).await;
                    delay().await;
                    if res.status().is_success() {
                        let (mut parts, body) = res.into_parts();
                        let bytes = axum::body::to_bytes(body, usize::MAX)
                            .await
                            .unwrap_or_default();
                        parts.headers.remove(http::header::CONTENT_LENGTH);
                        if !truncated {
                            parts.headers.insert(
                                http::header::CONTENT_TYPE,
                                http::HeaderValue::from_static("text/html"),
                            );
                        }
                        Response::from_parts(parts, Body::from(bad_body(&bytes, truncated)))
                    } else {
                        res
                    }
                }
                Fault::WrongObject => {
                    delay().await;
                    (
                        [(http::header::CONTENT_TYPE, "application/json")],
                        WRONG_OBJECT_BODY,
                    )
                        .into_response()
                }
            }
        }
    };
    Ok(res)
}

async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = Arc::new(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Non-zero while a burst lasts: refused connections, failed accepts.
    let (mut refused, mut accept_errors) = (0u64, 0u64);
    let router = router(Arc::clone(&app));
    // Every connection task holds a sender; `recv()` returns `None` once all are gone.
    let (conn_tx, mut conn_rx) = mpsc::channel::<Infallible>(1);
    loop {
        let accepted = tokio::select! {
            _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                if accept_errors > 0 {
                    tracing::info!(failed = accept_errors, "accepting connections again");
                    accept_errors = 0;
                }
                stream
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                if accept_errors == 0 {
                    tracing::warn!(
                        error = %e,
                        "accept failed; retrying every 20 ms (logged once until an accept succeeds)"
                    );
                }
                accept_errors += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                if refused > 0 {
                    tracing::info!(
                        refused,
                        "below the connection limit again: accepting connections"
                    );
                    refused = 0;
                }
                permit
            }
            Err(_) => {
                if refused == 0 {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections get a 503 and are closed until \
                         open ones close (--max-connections; logged once per burst)"
                    );
                }
                refused += 1;
                // Never waits: a full socket buffer just loses the 503.
                let _ = stream.try_write(&CONNECTION_LIMIT_RESPONSE);
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let svc = FaultService {
            app: Arc::clone(&app),
            router: router.clone(),
            limits: Arc::clone(&limits),
        };
        let mut stop = shutdown.clone();
        let guard = conn_tx.clone();
        let limits = Arc::clone(&limits);
        tokio::spawn(async move {
            let _guard = guard;
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
            tokio::pin!(conn);
            let stopped = tokio::select! {
                served = conn.as_mut() => {
                    if served.is_err_and(|e| e.is_timeout())
                        && let Some(n) = limits.header_timeouts.hit(Instant::now())
                    {
                        tracing::info!(
                            connections = n,
                            timeout = ?limits.header_timeout,
                            "closed connections that sent no complete request head within the \
                             header timeout: slow clients or idle keep-alive (--header-timeout; \
                             one line per burst, `connections` counts since the last one)"
                        );
                    }
                    false
                }
                _ = stop.wait_for(|stop| *stop) => true,
            };
            if stopped {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        });
    }
    drop(listener);
    drop(conn_tx);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn_rx.recv()).await;
}

/// A running emulator. Dropping it stops the server without writing the state file; call
/// [`Emulator::shutdown`] for a graceful stop.
pub struct Emulator {
    addr: SocketAddr,
    app: Arc<App>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    state_file: Option<PathBuf>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field(
                "instances",
                &self
                    .app
                    .instances
                    .iter()
                    .map(|i| i.label.clone())
                    .collect::<Vec<_>>(),
            )
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    a
}

impl Emulator {
    /// Binds, loads the state or seed file, spawns the server on the current tokio runtime and
    /// returns once it accepts connections.
    pub async fn start(config: Config) -> std::io::Result<Emulator> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{}", loopback_if_unspecified(addr));
        let control = crate::api::control_guard::ControlAccess::new(
            config.control_token.clone(),
            &config.control_hosts,
            addr,
        );
        let app = Arc::new(crate::persist::build_app(&config, origin, control).await?);
        let (tx, rx) = watch::channel(false);
        let limits = ConnectionLimits::new(&config);
        let task = tokio::spawn(serve(listener, Arc::clone(&app), limits, rx));
        Ok(Emulator {
            addr,
            app,
            shutdown: tx,
            task: Some(task),
            state_file: config.state_file,
        })
    }

    /// The bound address (the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL to give a Clerk client.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", loopback_if_unspecified(self.addr))
    }

    /// The same data as `GET /_emulator/stats`.
    pub fn stats(&self) -> Stats {
        self.app.stats()
    }

    /// Replaces the fault probabilities (the scripted queue and latency are kept).
    pub fn set_faults(&self, faults: FaultSpec) {
        self.app.faults.set_spec(faults);
    }

    /// Clears all data, counters and rate-limit windows (like `POST /_emulator/reset`).
    pub fn reset(&self) {
        self.app.reset();
    }

    /// Stops accepting, lets in-flight requests finish (idle keep-alive connections close at
    /// once), then writes the state file if one is configured.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.await.map_err(std::io::Error::other)?;
        }
        if let Some(path) = self.state_file.take() {
            crate::persist::write_state(Arc::clone(&self.app), path).await?;
        }
        Ok(())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
