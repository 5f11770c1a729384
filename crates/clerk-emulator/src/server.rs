//! The HTTP server: each accepted connection is served by hyper's HTTP/1.1 connection with a
//! service that can drop the connection on purpose (`reset`, `lost_response`).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::api::{self, IMAGE_LIMIT, route};
use crate::app::App;
use crate::config::{Config, FaultKind, FaultSpec};
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

#[derive(Clone)]
struct FaultService {
    app: Arc<App>,
    router: Router,
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
        Box::pin(async move {
            let req = req.map(Body::new);
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
            app.counters.status(res.status().as_u16());
            Ok(res)
        })
    }
}

async fn serve(listener: TcpListener, app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let router = router(Arc::clone(&app));
    // Every connection task holds a sender; `recv()` returns `None` once all are gone.
    let (conn_tx, mut conn_rx) = mpsc::channel::<Infallible>(1);
    loop {
        let accepted = tokio::select! {
            _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let svc = FaultService {
            app: Arc::clone(&app),
            router: router.clone(),
        };
        let mut stop = shutdown.clone();
        let guard = conn_tx.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
            tokio::pin!(conn);
            let stopped = tokio::select! {
                _ = conn.as_mut() => false,
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
        let app = Arc::new(crate::persist::build_app(&config, origin).await?);
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, Arc::clone(&app), rx));
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
