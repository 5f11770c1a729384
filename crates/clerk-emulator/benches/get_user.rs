//! GET /v1/users/{id} throughput of the emulator on ONE core (a 1-worker tokio runtime), for a
//! realistic user (two emails, a phone, metadata, an external account, an org membership).
//! The load generator runs on its own thread and runtime: keep-alive connections, 32 requests
//! in flight. Prints req/s.
//!
//! `cargo bench -p clerk-emulator --bench get_user` (`BENCH_SECS` sets the measured duration).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clerk_emulator::{Config, Emulator, RateLimit};
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const KEY: &str = "sk_test_emulator";
const IN_FLIGHT: usize = 32;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn request(method: Method, url: &str, body: Option<Value>) -> Request<Full<Bytes>> {
    let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    Request::builder()
        .method(method)
        .uri(url)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(bytes))
        .expect("request")
}

async fn call(client: &HttpClient, method: Method, url: &str, body: Option<Value>) -> Value {
    let res = client
        .request(request(method, url, body))
        .await
        .expect("response");
    assert_eq!(res.status(), 200);
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).expect("json")
}

async fn realistic_user(client: &HttpClient, origin: &str) -> (String, usize) {
    let v1 = format!("{origin}/v1");
    let user = call(
        client,
        Method::POST,
        &format!("{v1}/users"),
        Some(json!({
            "external_id": "crm-000123",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "username": "ada_lovelace",
            "email_address": ["ada@example.com", "ada.lovelace@work.example"],
            "phone_number": ["+15555550100"],
            "password": "correct horse battery staple",
            "public_metadata": {"plan": "pro", "seats": 5, "features": ["sso", "audit"]},
            "private_metadata": {"stripe_customer": "cus_123", "notes": {"vip": true}},
            "unsafe_metadata": {"theme": "dark"}
        })),
    )
    .await;
    let id = user["id"].as_str().expect("id").to_owned();
    call(
        client,
        Method::POST,
        &format!("{origin}/_emulator/users/{id}/external_accounts"),
        Some(json!({"provider": "oauth_google", "email_address": "ada@example.com", "scopes": ["email", "profile"]})),
    )
    .await;
    call(
        client,
        Method::POST,
        &format!("{v1}/organizations"),
        Some(json!({"name": "Analytical Engines", "created_by": id})),
    )
    .await;
    let full = client
        .request(request(Method::GET, &format!("{v1}/users/{id}"), None))
        .await
        .expect("get");
    let size = full
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .len();
    (id, size)
}

/// CPU seconds (user + system) used so far by this process's threads named `name`.
fn thread_cpu_secs(name: &str) -> f64 {
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut total = 0u64;
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised comm: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (u, s) = (
            f.get(11).and_then(|v| v.parse::<u64>().ok()),
            f.get(12).and_then(|v| v.parse::<u64>().ok()),
        );
        total += u.unwrap_or(0) + s.unwrap_or(0);
    }
    total as f64 / ticks_per_sec
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    // The emulator: one worker thread = one core.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("emulator")
        .enable_all()
        .build()
        .expect("server runtime");
    let emu = server_rt
        .block_on(Emulator::start(Config::new().rate_limit(RateLimit::Off)))
        .expect("emulator");
    let origin = format!("http://{}", emu.addr());

    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(IN_FLIGHT)
        .build_http();
    let (id, size) = client_rt.block_on(realistic_user(&client, &origin));
    let url = format!("{origin}/v1/users/{id}");

    let done = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (elapsed, server_cpu) = client_rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..IN_FLIGHT {
            let (client, url) = (client.clone(), url.clone());
            let (done, measuring, stop) = (done.clone(), measuring.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let res = client
                        .request(request(Method::GET, &url, None))
                        .await
                        .expect("response");
                    assert_eq!(res.status(), 200);
                    res.into_body().collect().await.expect("body");
                    if measuring.load(Ordering::Relaxed) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
        measuring.store(true, Ordering::Relaxed);
        let cpu0 = thread_cpu_secs("emulator");
        let t = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        measuring.store(false, Ordering::Relaxed);
        let elapsed = t.elapsed();
        let cpu = thread_cpu_secs("emulator") - cpu0;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("task");
        }
        (elapsed, cpu)
    });
    let n = done.load(Ordering::Relaxed);
    let stats = emu.stats();
    let per_req_us = server_cpu * 1e6 / n as f64;
    println!(
        "get_user: {:.0} req/s over {:.1} s ({n} requests, {IN_FLIGHT} in flight, {size}-byte user, emulator on 1 worker thread; statuses {:?})",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        stats.responses_per_status
    );
    println!(
        "get_user: emulator thread busy {:.0}% of the time, {per_req_us:.1} us CPU per request => {:.0} req/s per fully used core",
        100.0 * server_cpu / elapsed.as_secs_f64(),
        1e6 / per_req_us
    );
    server_rt.block_on(emu.shutdown()).expect("shutdown");
}
