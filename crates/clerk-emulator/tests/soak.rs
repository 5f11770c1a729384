//! A bounded long run of the emulator binary: mixed traffic (create, get, update, list, delete,
//! and invalid requests) from many connections with faults on (every kind but `wrong_object`,
//! `slow_apply` held 30 ms), checking that
//!
//! * every response is well-formed: its status is one the request can get, its body parses as
//!   the spec's user, list, deleted-object or error shape, and what deviates is explained by a
//!   configured fault (and only a configured one: the stats must show no other kind);
//! * the emulator's memory stays flat: its resident set (`/proc/PID/statm`, sampled) grows by
//!   less than [`GROWTH_BOUND`] from the end of the warm-up to the end of the run.
//!
//! A few seconds by default (CI); `CLERK_SOAK_SECS=60 cargo test -p clerk-emulator --test soak
//! -- --nocapture` runs it for a minute and prints the figures.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const KEY: &str = "sk_test_emulator";
/// Steady-state growth of the emulator's resident set allowed after the warm-up.
const GROWTH_BOUND: u64 = 16 << 20;
const WORKERS: usize = 48;
/// Requests the run makes at least: past its duration it goes on until it has made them
/// (a loaded machine serves fewer per second), so the checks below always have enough
/// traffic to judge, and a missing fault kind is a broken fault (p < 1e-8 at 1-2 % per kind).
const MIN_REQUESTS: u64 = 2000;
/// However slow the machine, the run stops this long after its duration.
const OVERTIME: Duration = Duration::from_secs(60);
/// Users a worker cycles through: the population stays under `WORKERS * SLOTS`.
const SLOTS: usize = 3;
/// Every kind but `wrong_object`, which must then never be seen.
const FAULTS: &str = "5xx=0.02,reset=0.01,lost_response=0.01,429=0.01,bad_body=0.01,slow_apply=0.01,slow_apply_ms=30";

type HttpClient = Client<HttpConnector, Full<Bytes>>;
/// An invalid request: method, path, body, with a key, and the errors it may get.
type Invalid = (
    Method,
    &'static str,
    Option<&'static str>,
    bool,
    &'static [(u16, &'static str)],
);

/// What one response turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    Expected,
    /// The connection closed without an answer (`reset`, `lost_response`).
    Dropped,
    ServerError,
    TooManyRequests,
    BadBody,
    WrongObject,
}

/// The shape a successful answer must have.
#[derive(Debug, Clone, Copy)]
enum Shape {
    User,
    Users,
    Deleted,
    Count,
}

struct Emulator {
    child: Child,
    addr: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Emulator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clerk-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            // High enough not to refuse the soak's own traffic, low enough to keep windows full.
            "--rate-limit",
            "50000/1s",
            "--faults",
            FAULTS,
            "--latency",
            "0..2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run clerk-emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Emulator { child, addr }
}

fn rss_bytes(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    raw: Bytes,
}

async fn send(
    client: &HttpClient,
    addr: &str,
    method: Method,
    path: &str,
    body: Option<&str>,
    auth: bool,
) -> Option<Answer> {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if auth {
        b = b.header(header::AUTHORIZATION, format!("Bearer {KEY}"));
    }
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let req = b
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
        .expect("request");
    let res = client.request(req).await.ok()?;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let raw = res.into_body().collect().await.ok()?.to_bytes();
    Some(Answer {
        status,
        headers,
        raw,
    })
}

fn is_error_shape(v: &Value) -> bool {
    let Some(errors) = v["errors"].as_array() else {
        return false;
    };
    !errors.is_empty()
        && errors.iter().all(|e| {
            e["code"].is_string() && e["message"].is_string() && e["long_message"].is_string()
        })
        && v["clerk_trace_id"].is_string()
}

fn is_user(v: &Value) -> bool {
    v["object"] == "user"
        && v["id"].as_str().is_some_and(|id| id.starts_with("user_"))
        && v["email_addresses"].is_array()
        && v["created_at"].is_i64()
        && v["public_metadata"].is_object()
}

/// Classifies one answer (a `{"object":"total_count","total_count":3}` where a user was
/// expected is read as `wrong_object`, which the soak does not configure: it must not occur).
/// `ok` is the success status and shape; `errors` the error statuses
/// and codes this request may get without any fault. `Err` says what was malformed.
fn classify(
    answer: Option<&Answer>,
    ok: Option<(u16, Shape)>,
    errors: &[(u16, &str)],
) -> Result<(Seen, Option<Value>), String> {
    let Some(a) = answer else {
        return Ok((Seen::Dropped, None));
    };
    let text = String::from_utf8_lossy(&a.raw);
    let ct = a
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&a.raw).ok();
    if let Some((status, shape)) = ok
        && a.status == status
    {
        let Some(v) = parsed else {
            // `bad_body`: a 2xx body cut in half or replaced by an HTML page.
            return Ok((Seen::BadBody, None));
        };
        if ct != "application/json" {
            return Ok((Seen::BadBody, None));
        }
        // A real count can be 3 (the instance holds three users at that moment): only
        // where a count was not asked for is this body surely the misrouted answer.
        if !matches!(shape, Shape::Count) && v == json!({"object": "total_count", "total_count": 3})
        {
            return Ok((Seen::WrongObject, None));
        }
        let well_formed = match shape {
            Shape::User => is_user(&v),
            Shape::Users => v.as_array().is_some_and(|a| a.iter().all(is_user)),
            Shape::Deleted => v["object"] == "user" && v["deleted"] == true && v["id"].is_string(),
            Shape::Count => v["object"] == "total_count" && v["total_count"].is_u64(),
        };
        return if well_formed {
            Ok((Seen::Expected, Some(v)))
        } else {
            Err(format!("{status} is not a {shape:?}: {text}"))
        };
    }
    if a.status == 200
        && parsed.as_ref() == Some(&json!({"object": "total_count", "total_count": 3}))
    {
        return Ok((Seen::WrongObject, None));
    }
    if ct != "application/json" {
        return Err(format!("{} with content type {ct:?}: {text}", a.status));
    }
    let Some(v) = parsed.filter(is_error_shape) else {
        return Err(format!("{} is not a Clerk error: {text}", a.status));
    };
    let code = v["errors"][0]["code"].as_str().unwrap_or_default();
    match a.status {
        500 | 502 | 503 => return Ok((Seen::ServerError, Some(v))),
        429 if code == "too_many_requests" && a.headers.contains_key(header::RETRY_AFTER) => {
            return Ok((Seen::TooManyRequests, Some(v)));
        }
        _ => {}
    }
    if errors.contains(&(a.status, code)) {
        Ok((Seen::Expected, Some(v)))
    } else {
        Err(format!("unexpected {} {code}: {text}", a.status))
    }
}

#[derive(Default)]
struct Tally {
    seen: BTreeMap<Seen, u64>,
    requests: u64,
    problems: Vec<String>,
}

/// Until the duration has passed and [`MIN_REQUESTS`] were made (or the overtime is up).
fn keep_going(until: Instant, tally: &Mutex<Tally>) -> bool {
    let now = Instant::now();
    now < until || (tally.lock().unwrap().requests < MIN_REQUESTS && now < until + OVERTIME)
}

async fn worker(worker: usize, addr: String, until: Instant, tally: Arc<Mutex<Tally>>) {
    // One client per worker, one connection each (re-opened after a dropped one).
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .retry_canceled_requests(false)
        .pool_max_idle_per_host(1)
        .build_http();
    let mut round = 0usize;
    let note = |r: Result<(Seen, Option<Value>), String>| {
        let mut t = tally.lock().unwrap();
        t.requests += 1;
        match r {
            Ok((seen, v)) => {
                *t.seen.entry(seen).or_default() += 1;
                v
            }
            Err(problem) => {
                if t.problems.len() < 20 {
                    t.problems.push(problem);
                }
                None
            }
        }
    };
    while keep_going(until, &tally) {
        round += 1;
        let email = format!("w{worker}-s{}@soak.example", round % SLOTS);
        let create = json!({
            "email_address": [email],
            "external_id": format!("soak-{worker}-{round}"),
            "first_name": "Soak",
            "public_metadata": {"round": round, "tags": ["a", "b"]},
        })
        .to_string();
        let a = send(
            &client,
            &addr,
            Method::POST,
            "/v1/users",
            Some(&create),
            true,
        )
        .await;
        let created = note(classify(
            a.as_ref(),
            Some((200, Shape::User)),
            &[(422, "form_identifier_exists")],
        ));
        let id = created
            .as_ref()
            .and_then(|v| v["id"].as_str().map(str::to_owned));
        if let Some(id) = &id {
            let path = format!("/v1/users/{id}");
            let a = send(&client, &addr, Method::GET, &path, None, true).await;
            // Deleted meanwhile: never, but a lost create answer's user is found later.
            note(classify(a.as_ref(), Some((200, Shape::User)), &[]));
            let patch = json!({"last_name": format!("R{round}")}).to_string();
            let a = send(&client, &addr, Method::PATCH, &path, Some(&patch), true).await;
            note(classify(a.as_ref(), Some((200, Shape::User)), &[]));
            let meta = json!({"private_metadata": {"seen": round}}).to_string();
            let a = send(
                &client,
                &addr,
                Method::PATCH,
                &format!("{path}/metadata"),
                Some(&meta),
                true,
            )
            .await;
            note(classify(a.as_ref(), Some((200, Shape::User)), &[]));
        }
        let list = format!(
            "/v1/users?limit=10&offset={}&order_by=-created_at",
            round % 20
        );
        let a = send(&client, &addr, Method::GET, &list, None, true).await;
        note(classify(a.as_ref(), Some((200, Shape::Users)), &[]));
        let a = send(&client, &addr, Method::GET, "/v1/users/count", None, true).await;
        note(classify(a.as_ref(), Some((200, Shape::Count)), &[]));
        // Invalid requests, one kind per round.
        let (method, path, body, auth, errors): Invalid = match round % 5 {
            0 => (
                Method::POST,
                "/v1/users",
                Some("{not json"),
                true,
                &[(400, "request_body_invalid")],
            ),
            1 => (
                Method::GET,
                "/v1/users?limit=0",
                None,
                true,
                &[
                    (422, "form_param_value_invalid"),
                    (422, "form_param_format_invalid"),
                ],
            ),
            2 => (
                Method::GET,
                "/v1/users/user_doesnotexist",
                None,
                true,
                &[(404, "resource_not_found")],
            ),
            3 => (
                Method::GET,
                "/v1/users",
                None,
                false,
                &[(401, "authentication_invalid")],
            ),
            _ => (
                Method::POST,
                "/v1/users",
                Some(r#"{"no_such_field": 1}"#),
                true,
                &[(422, "form_param_unknown")],
            ),
        };
        let a = send(&client, &addr, method, path, body, auth).await;
        note(classify(a.as_ref(), None, errors));
        // Remove what this slot holds: the user just created, or one whose create answer was
        // lost (found by its email), so the population stays bounded.
        let ids: Vec<String> = match id {
            Some(id) => vec![id],
            None => {
                let q = format!("/v1/users?email_address={}", email.replace('@', "%40"));
                let a = send(&client, &addr, Method::GET, &q, None, true).await;
                note(classify(a.as_ref(), Some((200, Shape::Users)), &[]))
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|u| u["id"].as_str().map(str::to_owned))
                    .collect()
            }
        };
        for id in ids {
            let a = send(
                &client,
                &addr,
                Method::DELETE,
                &format!("/v1/users/{id}"),
                None,
                true,
            )
            .await;
            note(classify(
                a.as_ref(),
                Some((200, Shape::Deleted)),
                &[(404, "resource_not_found")],
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_mixed_traffic_with_faults_memory_stays_flat_and_answers_are_well_formed() {
    let secs: u64 = std::env::var("CLERK_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4)
        .max(2);
    let total = Duration::from_secs(secs);
    let warm_up = (total / 4).max(Duration::from_secs(1));
    let emu = start();
    let pid = emu.child.id();
    let started = Instant::now();
    let until = started + total;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(worker(w, emu.addr.clone(), until, Arc::clone(&tally))))
        .collect();
    // RSS samples every 100 ms, from the end of the warm-up on.
    let mut samples = Vec::new();
    tokio::time::sleep(warm_up).await;
    while !workers.iter().all(tokio::task::JoinHandle::is_finished) {
        samples.push(rss_bytes(pid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for w in workers {
        w.await.expect("worker");
    }
    let end_rss = rss_bytes(pid);
    samples.push(end_rss);

    let stats: Value = {
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let a = send(
            &client,
            &emu.addr,
            Method::GET,
            "/_emulator/stats",
            None,
            false,
        )
        .await
        .expect("stats");
        serde_json::from_slice(&a.raw).expect("stats json")
    };
    let tally = tally.lock().unwrap();
    let baseline = samples[0];
    let peak = samples.iter().copied().max().unwrap_or(baseline);
    let growth = peak.saturating_sub(baseline);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "soak: {secs} s, {} requests ({:.0}/s) from {WORKERS} connections; {:?}; RSS after warm-up {:.1} MiB, peak {:.1} MiB, end {:.1} MiB, growth {:.1} MiB (bound {:.0} MiB); faults injected {}",
        tally.requests,
        tally.requests as f64 / elapsed,
        tally.seen,
        mib(baseline),
        mib(peak),
        mib(end_rss),
        mib(growth),
        mib(GROWTH_BOUND),
        stats["faults_injected"],
    );
    assert!(
        tally.problems.is_empty(),
        "malformed answers: {:#?}",
        tally.problems
    );
    assert!(
        tally.requests >= MIN_REQUESTS,
        "too little traffic to judge: {} in {elapsed:.0} s",
        tally.requests
    );
    // Faults only as configured: every kind in the spec was injected, nothing else.
    let configured = [
        "5xx",
        "reset",
        "lost_response",
        "429",
        "bad_body",
        "slow_apply",
    ];
    for (kind, n) in stats["faults_injected"].as_object().expect("faults") {
        if !configured.contains(&kind.as_str()) {
            assert_eq!(n, 0, "{kind} was not configured");
        }
    }
    assert_eq!(
        stats["rate_limited"], 0,
        "the soak stays under its rate limit"
    );
    // Each injected fault is accounted for by what the clients saw, and nothing else deviated.
    let injected = |kind: &str| stats["faults_injected"][kind].as_u64().unwrap_or(0);
    let seen = |s: Seen| tally.seen.get(&s).copied().unwrap_or(0);
    assert_eq!(seen(Seen::ServerError), injected("5xx"));
    assert_eq!(seen(Seen::TooManyRequests), injected("429"));
    assert_eq!(
        seen(Seen::Dropped),
        injected("reset") + injected("lost_response")
    );
    // `bad_body` only changes 2xx answers.
    assert!(seen(Seen::BadBody) <= injected("bad_body"));
    assert_eq!(
        seen(Seen::WrongObject),
        0,
        "wrong_object was not configured"
    );
    // With 1-2 % per kind, 2,000 requests make a missing kind a broken fault (p < 1e-8).
    for seen in [
        Seen::Dropped,
        Seen::ServerError,
        Seen::TooManyRequests,
        Seen::BadBody,
    ] {
        assert!(
            tally.seen.contains_key(&seen),
            "no {seen:?} in {:?}",
            tally.seen
        );
    }
    // The population stays bounded by the slots.
    let users = stats["instances"]["sk_test_…ator"]["users"]
        .as_u64()
        .expect("users");
    assert!(users <= (WORKERS * SLOTS) as u64, "{users} users left");
    assert!(
        growth < GROWTH_BOUND,
        "RSS grew {:.1} MiB after the warm-up (from {:.1} to a peak of {:.1} MiB)",
        mib(growth),
        mib(baseline),
        mib(peak)
    );
}
