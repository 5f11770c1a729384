//! The transport against real sockets on 127.0.0.1: a tiny hyper server for
//! well-formed exchanges, raw bytes for the broken ones.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clerk_core::{Body, Error};
use clerk_transport::Transport;
use http::{Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tower::ServiceExt;

const SECRET: &str = "sk_test_do_not_leak_0123456789";

/// Upper bound for any single exchange, so a regression fails instead of hanging.
const BOUND: Duration = Duration::from_secs(10);

async fn send(transport: &Transport, request: Request<Body>) -> Result<Response<Body>, Error> {
    tokio::time::timeout(BOUND, transport.clone().oneshot(request))
        .await
        .expect("the exchange must finish")
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("authorization", format!("Bearer {SECRET}"))
        .body(Body::empty())
        .unwrap()
}

fn assert_no_secret(err: &Error) {
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(SECRET), "secret leaked: {shown}");
    }
}

/// Answers with the request's method, path and query, `x-test` header and
/// version in headers, and its body as the body, status 201.
async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map(|pq| pq.to_string())
        .unwrap_or_default();
    let version = format!("{:?}", request.version());
    let x_test = request.headers().get("x-test").cloned();
    let content_type = request.headers().get("content-type").cloned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let mut response = Response::builder()
        .status(StatusCode::CREATED)
        .header("x-method", method)
        .header("x-path", path)
        .header("x-version", version);
    if let Some(value) = x_test {
        response = response.header("x-test", value);
    }
    if let Some(value) = content_type {
        response = response.header("content-type", value);
    }
    Ok(response.body(Full::new(body)).unwrap())
}

/// A hyper server speaking HTTP/1.1 (or HTTP/2 with prior knowledge); counts accepts.
async fn hyper_server_on(listener: TcpListener, http2: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let io = TokioIo::new(stream);
            tokio::spawn(async move {
                let service = service_fn(echo);
                if http2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, service)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                }
            });
        }
    });
    (addr, accepts)
}

async fn hyper_server(http2: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    hyper_server_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), http2).await
}

/// A server that reads each request head and then runs `handler` on the socket.
async fn raw_server<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            read_head(&mut stream).await;
            tokio::spawn(handler(stream));
        }
    });
    addr
}

async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn round_trips_method_path_query_headers_and_body() {
    let (addr, _) = hyper_server(false).await;
    let transport = Transport::new().unwrap();
    let request = Request::post(format!(
        "http://{addr}/v1/users/user_%2F1/ban?limit=2&email_address=a%40b.c&email_address=d&order_by=%2Bcreated_at"
    ))
    .header("x-test", "héllo".as_bytes())
    .header("content-type", "application/json")
    .body(Body::from(r#"{"first_name":"Ada"}"#))
    .unwrap();
    let response = send(&transport, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.version(), Version::HTTP_11);
    let header = |name: &str| response.headers().get(name).unwrap().as_bytes().to_vec();
    assert_eq!(header("x-method"), b"POST");
    assert_eq!(
        header("x-path"),
        b"/v1/users/user_%2F1/ban?limit=2&email_address=a%40b.c&email_address=d&order_by=%2Bcreated_at"
    );
    assert_eq!(header("x-test"), "héllo".as_bytes());
    assert_eq!(header("content-type"), b"application/json");
    assert_eq!(
        response.body().as_bytes(),
        r#"{"first_name":"Ada"}"#.as_bytes()
    );
}

#[tokio::test]
async fn refuses_plain_http_to_other_hosts_before_any_io() {
    let transport = Transport::new().unwrap();
    for uri in [
        "http://example.com/v1/users",
        "http://10.1.2.3:8080/v1/users",
        "http://127.0.0.1.nip.io/v1/users",
        "ftp://127.0.0.1/v1/users",
        "/v1/users",
    ] {
        let mut call = pin!(transport.clone().oneshot(get(uri)));
        // Ready on the first poll: no DNS lookup, no connection was even started.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(Err(err)) = call.as_mut().poll(&mut cx) else {
            panic!("{uri} must be refused at once");
        };
        assert!(err.is_invalid_request(), "{uri}: {err}");
        assert!(!err.is_transport(), "{uri}: {err}");
        assert_no_secret(&err);
    }
    let err = send(&transport, get("http://example.com/v1/users"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
}

#[tokio::test]
async fn allows_plain_http_to_loopback_names() {
    let (addr, _) = hyper_server(false).await;
    let transport = Transport::new().unwrap();
    let port = addr.port();
    for uri in [
        format!("http://127.0.0.1:{port}/v1/a"),
        format!("http://localhost:{port}/v1/a"),
    ] {
        let response = send(&transport, get(&uri)).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{uri}");
    }

    // IPv6 loopback: a round trip when the machine has it; otherwise the transport
    // must still have tried to connect rather than refuse the URI.
    match TcpListener::bind("[::1]:0").await {
        Ok(listener) => {
            let (v6, _) = hyper_server_on(listener, false).await;
            let uri = format!("http://[::1]:{}/v1/a", v6.port());
            let response = send(&transport, get(&uri)).await.unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        Err(_) => {
            let err = send(&transport, get("http://[::1]:9/v1/a"))
                .await
                .unwrap_err();
            assert!(err.is_connect(), "{err}");
        }
    }
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bound but never listening: a connect is refused, and the port stays this test's
    // (a listener closed again would free it for any other process, and a connect from
    // an ephemeral port equal to it would even reach itself).
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let transport = Transport::new().unwrap();
    let err = send(&transport, get(&format!("http://{addr}/v1/users")))
        .await
        .unwrap_err();
    assert!(err.is_connect() && err.is_transport(), "{err:?}");
    assert!(!err.is_timeout());
    assert!(
        err.to_string().to_lowercase().contains("refused"),
        "the message names the cause: {err}"
    );
    assert_no_secret(&err);
    drop(socket);
}

#[tokio::test]
async fn closed_without_an_answer_is_a_transport_error_not_a_connect_error() {
    let addr = raw_server(|stream| async move { drop(stream) }).await;
    let transport = Transport::new().unwrap();
    let err = send(&transport, get(&format!("http://{addr}/v1/users")))
        .await
        .unwrap_err();
    assert!(err.is_transport() && !err.is_connect(), "{err:?}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn body_cut_short_is_a_transport_error() {
    let addr = raw_server(|mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\":")
            .await;
    })
    .await;
    let transport = Transport::new().unwrap();
    let err = send(&transport, get(&format!("http://{addr}/v1/users/u")))
        .await
        .unwrap_err();
    assert!(err.is_transport() && !err.is_connect(), "{err:?}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn declared_length_over_the_cap_fails_without_reading() {
    // The body never comes: only an early check on Content-Length can answer.
    let addr = raw_server(|mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n")
            .await;
        let mut sink = [0u8; 16];
        let _ = stream.read(&mut sink).await;
    })
    .await;
    let transport = Transport::builder()
        .max_response_body(1024)
        .build()
        .unwrap();
    let err = send(&transport, get(&format!("http://{addr}/v1/users")))
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err:?}");
    assert!(err.to_string().contains("1024"), "{err}");
}

/// A chunked response of `len` bytes in 100-byte chunks (no Content-Length).
async fn chunked_server(len: usize) -> SocketAddr {
    raw_server(move |mut stream| async move {
        let mut out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        let mut left = len;
        while left > 0 {
            let n = left.min(100);
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            out.extend(std::iter::repeat_n(b'a', n));
            out.extend_from_slice(b"\r\n");
            left -= n;
        }
        out.extend_from_slice(b"0\r\n\r\n");
        // The client may hang up once it has seen enough: the write may fail.
        let _ = stream.write_all(&out).await;
    })
    .await
}

#[tokio::test]
async fn streamed_body_over_the_cap_fails_and_at_the_cap_passes() {
    let transport = Transport::builder()
        .max_response_body(1024)
        .build()
        .unwrap();

    let at_cap = chunked_server(1024).await;
    let response = send(&transport, get(&format!("http://{at_cap}/v1/users")))
        .await
        .unwrap();
    assert_eq!(response.body().len(), 1024);

    for len in [1025, 64 * 1024] {
        let over = chunked_server(len).await;
        let err = send(&transport, get(&format!("http://{over}/v1/users")))
            .await
            .unwrap_err();
        assert!(err.is_body_too_large(), "{len}: {err:?}");
    }
}

#[tokio::test]
async fn content_length_at_the_cap_passes() {
    let addr = raw_server(|mut stream| async move {
        let mut out = b"HTTP/1.1 200 OK\r\ncontent-length: 1024\r\n\r\n".to_vec();
        out.extend(std::iter::repeat_n(b'b', 1024));
        let _ = stream.write_all(&out).await;
    })
    .await;
    let transport = Transport::builder()
        .max_response_body(1024)
        .build()
        .unwrap();
    let response = send(&transport, get(&format!("http://{addr}/v1/users")))
        .await
        .unwrap();
    assert_eq!(response.body().len(), 1024);
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection() {
    let (addr, accepts) = hyper_server(false).await;
    let transport = Transport::new().unwrap();
    for i in 0..3 {
        let response = send(&transport, get(&format!("http://{addr}/v1/users/{i}")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    // Clones share the pool too.
    let clone = transport.clone();
    send(&clone, get(&format!("http://{addr}/v1/users")))
        .await
        .unwrap();
    assert_eq!(accepts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let (closed_tx, closed_rx) = oneshot::channel::<()>();
    let closed_tx = Arc::new(std::sync::Mutex::new(Some(closed_tx)));
    let addr = raw_server(move |mut stream| {
        let closed_tx = closed_tx.clone();
        async move {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await;
            // Keep-alive: the next read only returns when the client closes.
            let mut buf = [0u8; 64];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            if let Some(tx) = closed_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    })
    .await;
    let transport = Transport::builder()
        .pool_idle_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = Instant::now();
    send(&transport, get(&format!("http://{addr}/v1/users")))
        .await
        .unwrap();
    tokio::time::timeout(BOUND, closed_rx)
        .await
        .expect("the pool must close the idle connection")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));
    // The transport is still alive: the close came from the pool timer, not a drop.
    drop(transport);
}

#[tokio::test]
async fn h2c_with_prior_knowledge_when_http2_only() {
    let (addr, accepts) = hyper_server(true).await;
    let transport = Transport::builder().http2_only(true).build().unwrap();
    let request = Request::patch(format!("http://{addr}/v1/users/u_1/metadata?x=%2B1"))
        .header("x-test", "h2")
        .body(Body::from("{\"public_metadata\":{}}"))
        .unwrap();
    let response = send(&transport, request).await.unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    let header = |name: &str| response.headers().get(name).unwrap().as_bytes().to_vec();
    assert_eq!(header("x-version"), b"HTTP/2.0");
    assert_eq!(header("x-method"), b"PATCH");
    assert_eq!(header("x-path"), b"/v1/users/u_1/metadata?x=%2B1");
    assert_eq!(header("x-test"), b"h2");
    assert_eq!(
        response.body().as_bytes(),
        "{\"public_metadata\":{}}".as_bytes()
    );

    // Concurrent requests are multiplexed on the one HTTP/2 connection.
    let calls = (0..4).map(|i| {
        let transport = transport.clone();
        let uri = format!("http://{addr}/v1/users/{i}");
        tokio::spawn(async move { send(&transport, get(&uri)).await })
    });
    for call in calls.collect::<Vec<_>>() {
        assert_eq!(call.await.unwrap().unwrap().status(), StatusCode::CREATED);
    }
    assert_eq!(accepts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn tls_handshake_failure_is_a_connect_error() {
    // Answers the ClientHello with plain HTTP: not TLS.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let transport = Transport::new().unwrap();
    let err = send(&transport, get(&format!("https://{addr}/v1/users")))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn silent_tls_peer_hits_the_connect_timeout() {
    // Accepts the TCP connection but never answers the ClientHello: only a deadline
    // over the whole connect (not just TCP) ends this.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let transport = Transport::builder()
        .connect_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = send(&transport, get(&format!("https://{addr}/v1/users")))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn tcp_connect_that_never_completes_hits_the_connect_timeout() {
    // A listener with a full accept queue: Linux drops further SYNs, so a connect
    // hangs on loopback without touching any other address.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    let mut saturated = false;
    for _ in 0..64 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(e)) => panic!("filling the accept queue failed: {e}"),
            Err(_) => {
                saturated = true;
                break;
            }
        }
    }
    assert!(saturated, "the accept queue never filled up");

    let transport = Transport::builder()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = send(&transport, get(&format!("http://{addr}/v1/users")))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(5));
    drop((listener, fillers));
}
