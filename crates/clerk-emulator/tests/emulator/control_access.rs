//! The control API refuses what a web page could send it: non-JSON bodies (simple cross-site
//! requests), foreign origins, rebound host names, and, with a token configured, requests
//! without it.

use bytes::Bytes;
use clerk_emulator::{Config, RateLimit};
use http::{Method, Request};
use http_body_util::Full;
use serde_json::json;

use crate::common::{Api, Resp};

/// A control request with exactly these headers (plus the client's `Host` unless given).
async fn control(
    api: &Api,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(api.url(&format!("/_emulator/{path}")));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    api.send(req).await.expect("response")
}

const JSON: (&str, &str) = ("content-type", "application/json");

async fn user_count(api: &Api) -> u64 {
    api.get("/v1/users/count").await.ok("GetUsersCount")["total_count"]
        .as_u64()
        .unwrap()
}

async fn with_one_user() -> Api {
    let api = Api::start(Config::new().rate_limit(RateLimit::Off)).await;
    api.create_user(json!({"external_id": "keep-me"})).await;
    api
}

#[tokio::test]
async fn a_cross_site_form_cannot_reset_or_inject_faults() {
    let api = with_one_user().await;
    // What a page can send without a CORS preflight: text/plain, a form, or no content type.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("content-type", c)).into_iter().collect();
        control(&api, Method::POST, "reset", &headers, "")
            .await
            .err(415, "unsupported_media_type");
        control(&api, Method::POST, "faults", &headers, r#"{"5xx": 1}"#)
            .await
            .err(415, "unsupported_media_type");
    }
    assert_eq!(user_count(&api).await, 1, "nothing was wiped");
    assert_eq!(api.get("/_emulator/faults").await.body["spec"], "none");
    // JSON (charset allowed) is what the control API takes.
    let ok = control(
        &api,
        Method::POST,
        "faults",
        &[("content-type", "application/json; charset=utf-8")],
        r#"{"5xx": 0}"#,
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    // A body is required where one is expected.
    control(&api, Method::POST, "faults", &[JSON], "")
        .await
        .err(400, "request_body_invalid");
    let r = control(&api, Method::POST, "reset", &[JSON], "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(user_count(&api).await, 0);
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let api = with_one_user().await;
    let port = api.emu.addr().port();
    for origin in [
        "http://evil.example".to_owned(),
        "null".to_owned(),
        format!("http://localhost:{}", port.wrapping_add(1)),
        format!("https://127.0.0.1:{port}"),
    ] {
        control(
            &api,
            Method::POST,
            "reset",
            &[JSON, ("origin", &origin)],
            "{}",
        )
        .await
        .err(403, "origin_invalid");
    }
    control(
        &api,
        Method::POST,
        "reset",
        &[JSON, ("sec-fetch-site", "cross-site")],
        "{}",
    )
    .await
    .err(403, "origin_invalid");
    assert_eq!(user_count(&api).await, 1);
    // The emulator's own origin (a page it served) is fine.
    let own = format!("http://127.0.0.1:{port}");
    let r = control(&api, Method::POST, "reset", &[JSON, ("origin", &own)], "{}").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn rebound_host_names_are_refused() {
    let api = Api::start(
        Config::new()
            .rate_limit(RateLimit::Off)
            .control_host("emulator"),
    )
    .await;
    api.create_user(json!({"external_id": "keep-me"})).await;
    let port = api.emu.addr().port();
    // DNS rebinding: a name the attacker owns now resolves to 127.0.0.1.
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        "10.1.2.3".to_owned(),
    ] {
        control(&api, Method::POST, "reset", &[JSON, ("host", &host)], "{}")
            .await
            .err(403, "host_invalid");
        control(&api, Method::GET, "stats", &[("host", &host)], "")
            .await
            .err(403, "host_invalid");
    }
    assert_eq!(user_count(&api).await, 1);
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("emulator:{port}"),
    ] {
        let r = control(&api, Method::GET, "stats", &[("host", &host)], "").await;
        assert_eq!(r.status, 200, "{host}: {:?}", r.body);
    }
}

#[tokio::test]
async fn a_control_token_is_required_once_set() {
    const TOKEN: &str = "ctl_4f9a2c7e1b";
    let mut config = Config::new()
        .rate_limit(RateLimit::Off)
        .control_token(TOKEN);
    let api = Api::start(config.clone()).await;
    api.create_user(json!({"external_id": "keep-me"})).await;
    for token in [
        None,
        Some("ctl_4f9a2c7e1"),
        Some("ctl_4f9a2c7e1bX"),
        Some(""),
    ] {
        let mut headers = vec![JSON];
        if let Some(t) = token {
            headers.push(("emulator-control-token", t));
        }
        let e = control(&api, Method::POST, "reset", &headers, "{}")
            .await
            .err(401, "control_token_invalid");
        assert!(!e.to_string().contains(TOKEN));
        control(&api, Method::GET, "stats", &headers[1..], "")
            .await
            .err(401, "control_token_invalid");
    }
    assert_eq!(user_count(&api).await, 1);
    // Health and images stay public (an <img> cannot send a header); /v1 is unaffected.
    assert_eq!(api.get("/_emulator/health").await.status, 200);
    assert_eq!(api.get("/_emulator/images/default").await.status, 200);
    let token = ("emulator-control-token", TOKEN);
    let r = control(&api, Method::GET, "stats", &[token], "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = control(&api, Method::POST, "reset", &[JSON, token], "{}").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(user_count(&api).await, 0);
    // Refused at start when it is no secret at all.
    config = config.control_token("short");
    assert!(clerk_emulator::Emulator::start(config).await.is_err());
}

#[test]
fn the_control_token_from_the_environment_is_never_logged() {
    use std::io::{BufRead as _, BufReader, Read as _};
    const TOKEN: &str = "ctl_env_9d3e7a11c5";
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_clerk-emulator"))
        .arg("--help")
        .env("CLERK_EMULATOR_CONTROL_TOKEN", TOKEN)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("--control-token"), "{help}");
    assert!(!help.contains(TOKEN), "{help}");

    let mut child = crate::common::Reaped(
        std::process::Command::new(env!("CARGO_BIN_EXE_clerk-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .env("CLERK_EMULATOR_CONTROL_TOKEN", TOKEN)
            .env("RUST_LOG", "trace")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .trim_start_matches("listening on http://")
        .to_owned();
    let send = |token: &str| {
        use std::io::Write as _;
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "POST /_emulator/reset HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Emulator-Control-Token: {token}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(send(TOKEN).starts_with("HTTP/1.1 200"));
    let refused = send("ctl_env_wrong_token");
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let log = child.terminate();
    assert!(!log.contains(TOKEN), "{log}");
}
