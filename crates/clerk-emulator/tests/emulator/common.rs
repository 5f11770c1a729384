//! A raw HTTP harness: literal JSON in, `serde_json::Value` out, no Clerk models, and every 2xx
//! body checked against the response schema of the official spec.

use bytes::Bytes;
use clerk_emulator::{Config, Emulator, RateLimit};
use http::{HeaderMap, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub(crate) const KEY: &str = "sk_test_emulator";

pub(crate) struct Api {
    pub(crate) emu: Emulator,
    client: Client<HttpConnector, Full<Bytes>>,
    pub(crate) key: String,
}

#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) raw: Bytes,
    pub(crate) body: Value,
    /// The `Clerk-API-Version` the request asked for.
    pub(crate) version: Option<String>,
}

impl Resp {
    /// Asserts a 200 with `Content-Type: application/json` whose body validates against the
    /// response schema of `operation_id` in the spec of the version the request asked for
    /// (2025-11-10, the client's default, when it asked for none).
    #[track_caller]
    pub(crate) fn ok(self, operation_id: &str) -> Value {
        assert_eq!(
            self.status,
            200,
            "{operation_id}: {}",
            String::from_utf8_lossy(&self.raw)
        );
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{operation_id}: content type"
        );
        let spec = clerk_spec::Spec::for_version(self.version.as_deref().unwrap_or("2025-11-10"))
            .unwrap_or(&clerk_spec::SPEC_2025_04_10);
        if let Err(e) = spec.validate_response(operation_id, 200, &self.body) {
            panic!(
                "{operation_id}: body does not match the spec: {e}\n{}",
                self.body
            );
        }
        self.body
    }

    /// Asserts a Clerk error with this status and code; returns the first error object.
    #[track_caller]
    pub(crate) fn err(self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.raw)
        );
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        let errors = self.body["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors.len(), 1, "{}", self.body);
        let e = errors[0].clone();
        assert_eq!(e["code"], code, "{}", self.body);
        assert!(
            e["message"].is_string() && e["long_message"].is_string(),
            "{}",
            self.body
        );
        assert!(self.body["clerk_trace_id"].is_string(), "{}", self.body);
        e
    }
}

impl Api {
    pub(crate) async fn start(config: Config) -> Api {
        let emu = Emulator::start(config).await.expect("emulator starts");
        let client = Client::builder(TokioExecutor::new())
            .retry_canceled_requests(false)
            .build_http();
        Api {
            emu,
            client,
            key: KEY.to_owned(),
        }
    }

    /// The default instance without rate limits, for tests that do not test limits.
    pub(crate) async fn unlimited() -> Api {
        Api::start(Config::new().rate_limit(RateLimit::Off)).await
    }

    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.emu.addr())
    }

    pub(crate) async fn send(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<Resp, hyper_util::client::legacy::Error> {
        let version = req
            .headers()
            .get("clerk-api-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let res = self.client.request(req).await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let raw = res
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            raw,
            body,
            version,
        })
    }

    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Request<Full<Bytes>> {
        let mut b = Request::builder()
            .method(method)
            .uri(self.url(path))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key));
        let bytes = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(v).expect("json"))
            }
            None => Bytes::new(),
        };
        b.body(Full::new(bytes)).expect("request")
    }

    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        self.send(self.request(method, path, body))
            .await
            .expect("response")
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// A request with a JSON body (or none) under API `version`.
    pub(crate) async fn versioned(
        &self,
        version: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.request(method, path, body);
        req.headers_mut()
            .insert("clerk-api-version", version.parse().expect("header"));
        self.send(req).await.expect("response")
    }

    pub(crate) async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// A request with a raw body and content type.
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(self.url(path))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key))
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(body.into()))
            .expect("request");
        self.send(req).await.expect("response")
    }

    /// Creates a user from a literal body and returns it (validated).
    pub(crate) async fn create_user(&self, body: Value) -> Value {
        self.post("/v1/users", &body).await.ok("CreateUser")
    }

    /// `POST /_emulator/...` with the instance key.
    pub(crate) async fn control(&self, method: Method, path: &str, body: &Value) -> Resp {
        self.call(method, &format!("/_emulator/{path}"), Some(body))
            .await
    }
}

pub(crate) fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A child process killed when dropped, so a failing test leaves no emulator running.
pub(crate) struct Reaped(pub(crate) std::process::Child);

impl Reaped {
    /// Stops the emulator as a supervisor does (SIGTERM, a graceful shutdown), waits for it
    /// and returns what it wrote to its stderr (taken as a pipe by the caller).
    pub(crate) fn terminate(&mut self) -> String {
        use std::io::Read as _;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
        let mut log = String::new();
        self.0
            .stderr
            .take()
            .expect("the emulator's stderr is piped")
            .read_to_string(&mut log)
            .unwrap();
        log
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
