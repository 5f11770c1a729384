//! `clerk-users bench --report FILE.html`: one self-contained HTML page (inline CSS
//! and SVG, no script, nothing fetched) with the run over time: requests per second
//! against the quota, the server's sliding-window occupancy against its limit,
//! latency percentiles, retries / 429s / faults as marks, and the summary table.
//!
//! [`Timeline`] is filled while the bench runs: an attempt layer records every
//! attempt (when it was sent, how long it took, how it ended, whether the same
//! request was sent before: a retry, by the retry layer or a create the import
//! resends) and a sampler records the server's window occupancy four times a second.
//! [`render`] turns it into the page; every text that came from the command line, a
//! server or a file is HTML-escaped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clerk_core::{ClerkResponse, Error};
use clerk_tower::{ClerkBuilder, ClerkService};
use serde_json::Value;
use tower::ServiceExt;

use crate::svg::{Chart, marks_chart};
use tower::util::BoxCloneSyncService;

/// How one attempt ended, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 2xx, or a 4xx other than 429 (an answer, not a fault).
    Answered,
    /// 429 Too Many Requests.
    RateLimited,
    /// A 5xx.
    ServerError,
    /// The connection broke (reset, response lost) or could not be made.
    ConnectionLost,
    /// The attempt timed out.
    TimedOut,
}

impl Outcome {
    fn of(result: &Result<ClerkResponse, Error>) -> Outcome {
        match result {
            Ok(response) if response.status().as_u16() == 429 => Outcome::RateLimited,
            Ok(response) if response.status().is_server_error() => Outcome::ServerError,
            Ok(_) => Outcome::Answered,
            Err(e) if e.is_rate_limited() => Outcome::RateLimited,
            Err(e) if e.is_timeout() => Outcome::TimedOut,
            Err(e) if e.status().is_some_and(|s| s.is_server_error()) => Outcome::ServerError,
            Err(_) => Outcome::ConnectionLost,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Attempt {
    sent_ms: u32,
    latency_us: u32,
    outcome: Outcome,
    /// A `GET`: in the bench's import, a reconciliation lookup.
    lookup: bool,
    /// The same request (method, URI, body) was sent before.
    repeat: bool,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    at_ms: u32,
    /// Requests the server admitted in the window ending now (embedded emulator only).
    window: Option<u64>,
}

/// What the bench saw over time. Shared by the attempt layer and the sampler.
#[derive(Debug)]
pub(crate) struct Timeline {
    start: Instant,
    /// Set when the import ends: the verification listing is not part of the run.
    stopped: std::sync::atomic::AtomicBool,
    attempts: Mutex<Vec<Attempt>>,
    /// Fingerprints of the requests sent, each with how many of its attempts ended
    /// without an answer (a fault, a 429, a timeout) and were not sent again yet: to
    /// tell a retry from a first attempt.
    sent: Mutex<HashMap<u64, u32>>,
    samples: Mutex<Vec<Sample>>,
}

fn ms_since(start: Instant, at: Instant) -> u32 {
    u32::try_from(at.saturating_duration_since(start).as_millis()).unwrap_or(u32::MAX)
}

impl Timeline {
    /// An empty timeline whose time 0 is now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Timeline {
            start: Instant::now(),
            stopped: std::sync::atomic::AtomicBool::new(false),
            attempts: Mutex::new(Vec::new()),
            sent: Mutex::new(HashMap::new()),
            samples: Mutex::new(Vec::new()),
        })
    }

    /// Records nothing more: the run is over.
    pub(crate) fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether an attempt with this fingerprint is a retry: the same request was
    /// sent before and an attempt of it got no answer (the retry layer's next
    /// attempt, or a create the import sends again after reconciling). The same
    /// request after an answer is a new call (the final verification's lookup of a
    /// key looked up before), not a retry.
    fn begins(&self, fingerprint: u64) -> bool {
        self.sent.lock().is_ok_and(|mut sent| {
            let unanswered = sent.entry(fingerprint).or_insert(0);
            let retry = *unanswered > 0;
            *unanswered = unanswered.saturating_sub(1);
            retry
        })
    }

    /// Notes how the attempt with this fingerprint ended.
    fn ends(&self, fingerprint: u64, outcome: Outcome) {
        if outcome == Outcome::Answered {
            return;
        }
        if let Ok(mut sent) = self.sent.lock() {
            let unanswered = sent.entry(fingerprint).or_insert(0);
            *unanswered = unanswered.saturating_add(1);
        }
    }

    fn record(&self, sent: Instant, took: Duration, outcome: Outcome, kind: (bool, bool)) {
        if self.stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let (lookup, repeat) = kind;
        let attempt = Attempt {
            sent_ms: ms_since(self.start, sent),
            latency_us: u32::try_from(took.as_micros()).unwrap_or(u32::MAX),
            outcome,
            lookup,
            repeat,
        };
        if let Ok(mut all) = self.attempts.lock() {
            all.push(attempt);
        }
    }

    /// Records the server's current window occupancy.
    pub(crate) fn sample(&self, window: Option<u64>) {
        let sample = Sample {
            at_ms: ms_since(self.start, Instant::now()),
            window,
        };
        if let Ok(mut all) = self.samples.lock() {
            all.push(sample);
        }
    }

    /// Adds an attempt layer to `builder` that records every attempt here.
    pub(crate) fn layer(self: &Arc<Self>, builder: ClerkBuilder) -> ClerkBuilder {
        let timeline = Arc::clone(self);
        builder.attempt_layer(tower::layer::layer_fn(move |inner: ClerkService| {
            let timeline = Arc::clone(&timeline);
            BoxCloneSyncService::new(tower::service_fn(
                move |request: clerk_core::ClerkRequest| {
                    let (inner, timeline) = (inner.clone(), Arc::clone(&timeline));
                    let lookup = request.method().as_str() == "GET";
                    let mut fingerprint = DefaultHasher::new();
                    request.method().hash(&mut fingerprint);
                    request.uri().hash(&mut fingerprint);
                    request.body().as_bytes().hash(&mut fingerprint);
                    let fingerprint = fingerprint.finish();
                    let repeat = timeline.begins(fingerprint);
                    async move {
                        let mut attempt = InFlight {
                            timeline,
                            fingerprint,
                            kind: (lookup, repeat),
                            sent: Instant::now(),
                            outcome: None,
                        };
                        let result = inner.oneshot(request).await;
                        attempt.outcome = Some(Outcome::of(&result));
                        result
                    }
                },
            ))
        }))
    }
}

/// An attempt on its way: recorded when it ends, and also when it is dropped
/// unfinished. The attempt's deadline (the timeout layer above this one) drops the
/// attempt rather than failing it, so a timed-out attempt never ends here: it is
/// recorded as [`Outcome::TimedOut`], after as long as it was given.
struct InFlight {
    timeline: Arc<Timeline>,
    fingerprint: u64,
    kind: (bool, bool),
    sent: Instant,
    outcome: Option<Outcome>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let outcome = self.outcome.unwrap_or(Outcome::TimedOut);
        self.timeline.ends(self.fingerprint, outcome);
        self.timeline
            .record(self.sent, self.sent.elapsed(), outcome, self.kind);
    }
}

/// The quota drawn as the reference lines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QuotaLine {
    /// Requests allowed per window.
    pub(crate) requests: u64,
    /// The window.
    pub(crate) window: Duration,
}

/// The page: a title line, the charts, and `summary` (the `--json` object) as a table.
pub(crate) fn render(
    timeline: &Timeline,
    title: &str,
    quota: Option<QuotaLine>,
    summary: &Value,
) -> String {
    let attempts = timeline
        .attempts
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    let samples = timeline
        .samples
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    let end_ms = attempts
        .iter()
        .map(|a| a.sent_ms.saturating_add(a.latency_us / 1000))
        .chain(samples.iter().map(|s| s.at_ms))
        .max()
        .unwrap_or(0)
        .max(1000);
    let end_s = f64::from(end_ms) / 1000.0;
    let bucket_s = bucket_width(end_s);
    let buckets = (end_s / bucket_s).ceil().max(1.0) as usize;
    let bucket_of = |ms: u32| ((f64::from(ms) / 1000.0 / bucket_s) as usize).min(buckets - 1);

    let mut sent = vec![0_u64; buckets];
    let mut latencies: Vec<Vec<u32>> = vec![Vec::new(); buckets];
    let mut marks: [Vec<u64>; 6] = std::array::from_fn(|_| vec![0; buckets]);
    for a in &attempts {
        let b = bucket_of(a.sent_ms);
        sent[b] += 1;
        latencies[b].push(a.latency_us);
        let row = match a.outcome {
            Outcome::Answered => None,
            Outcome::RateLimited => Some(1),
            Outcome::ServerError => Some(2),
            Outcome::ConnectionLost => Some(3),
            Outcome::TimedOut => Some(4),
        };
        if let Some(row) = row {
            marks[row][b] += 1;
        }
        if a.lookup {
            marks[5][b] += 1;
        }
        if a.repeat {
            marks[0][b] += 1;
        }
    }
    let mid = |b: usize| (b as f64 + 0.5) * bucket_s;

    let mut html = String::with_capacity(64 * 1024);
    html.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>",
        "<title>clerk-users bench</title><style>",
        "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff;max-width:1000px}",
        "h1{font-size:20px;margin:0 0 4px}p.failed{color:#a00;background:#fdecea;padding:6px 10px;border-left:4px solid #d33}h2{font-size:15px;margin:22px 0 4px}p.sub{color:#566;margin:0 0 10px}",
        "svg{display:block}svg text{font:11px system-ui,sans-serif;fill:#445}",
        "table{border-collapse:collapse;margin-top:6px}td{padding:2px 14px 2px 0;border-bottom:1px solid #e4e7ec}",
        "td.long{overflow-wrap:anywhere}td:nth-child(odd){color:#566}td:nth-child(even){font-variant-numeric:tabular-nums;padding-right:28px}",
        ".legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:3px;margin-right:5px;vertical-align:middle}",
        "</style></head><body>\n"
    ));
    let _ = writeln!(
        html,
        "<h1>clerk-users bench</h1><p class=\"sub\">{}</p>",
        escape(title)
    );
    // A run that ended in an error says so first: what follows is what it recorded.
    if summary["run"] == "failed" {
        let error = summary["error"].as_str().unwrap_or("unknown error");
        let _ = writeln!(
            html,
            "<p class=\"failed\"><b>The run failed:</b> {}</p>",
            escape(error)
        );
    }

    // 1. Requests per second against the quota.
    // The last bucket is cut by the end of the run: its rate is over the time it covers.
    let covered = |b: usize| (end_s - b as f64 * bucket_s).clamp(1e-3, bucket_s);
    let rps: Vec<(f64, f64)> = sent
        .iter()
        .enumerate()
        .map(|(b, &n)| (mid(b).min(end_s), n as f64 / covered(b)))
        .collect();
    let quota_rps = quota.map(|q| q.requests as f64 / q.window.as_secs_f64());
    let mut chart = Chart::new(end_s, max_of(rps.iter().map(|p| p.1).chain(quota_rps)));
    chart.line(&rps, "#2f6fdf");
    if let Some(q) = quota_rps {
        chart.reference(q, &format!("quota {}", number(q)), "#d33");
    }
    let _ = write!(
        html,
        "<h2>Requests per second ({} buckets, attempts as sent)</h2>{}{}",
        seconds(bucket_s),
        legend(&[
            (
                "#2f6fdf",
                &format!("requests/s ({} attempts)", number(attempts.len() as f64)),
            ),
            ("#d33", "quota (N / W)")
        ]),
        chart.finish("requests/s")
    );

    // 2. The server's sliding window against N.
    let window: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| Some((f64::from(s.at_ms) / 1000.0, s.window? as f64)))
        .collect();
    let _ = write!(html, "<h2>Server sliding-window occupancy</h2>");
    if window.is_empty() {
        html.push_str("<p>Not available: the server is not the embedded emulator.</p>");
    } else {
        let limit = quota.map(|q| q.requests as f64);
        let mut chart = Chart::new(end_s, max_of(window.iter().map(|p| p.1).chain(limit)));
        chart.line(&window, "#1b9e77");
        if let (Some(limit), Some(q)) = (limit, quota) {
            chart.reference(
                limit,
                &format!(
                    "N = {} per {}",
                    number(limit),
                    seconds(q.window.as_secs_f64())
                ),
                "#d33",
            );
        }
        let peak = window.iter().map(|p| p.1).fold(0.0, f64::max);
        let _ = write!(
            html,
            "{}{}",
            legend(&[
                (
                    "#1b9e77",
                    &format!(
                        "requests admitted in the window ending then (peak sampled {})",
                        number(peak)
                    ),
                ),
                ("#d33", "limit N")
            ]),
            chart.finish("requests in window")
        );
    }

    // 3. Latency percentiles.
    let mut p = [Vec::new(), Vec::new(), Vec::new()];
    for (b, bucket) in latencies.iter_mut().enumerate() {
        if bucket.is_empty() {
            continue;
        }
        bucket.sort_unstable();
        for (i, q) in [0.50, 0.90, 0.99].into_iter().enumerate() {
            let rank = ((q * bucket.len() as f64).ceil() as usize).clamp(1, bucket.len());
            p[i].push((mid(b), f64::from(bucket[rank - 1]) / 1000.0));
        }
    }
    let mut chart = Chart::new(end_s, max_of(p.iter().flatten().map(|x| x.1)));
    for (series, color) in p.iter().zip(["#2f6fdf", "#e08a00", "#c2185b"]) {
        // A bucket with no attempt has no latency: the line breaks there.
        chart.line_with_gaps(series, bucket_s * 1.5, color);
    }
    let _ = write!(
        html,
        "<h2>Attempt latency by time sent</h2>{}{}",
        legend(&[("#2f6fdf", "p50"), ("#e08a00", "p90"), ("#c2185b", "p99")]),
        chart.finish("ms")
    );

    // 4. Marks.
    let names = [
        "retries (re-sent)",
        "429s",
        "5xx",
        "connection lost",
        "timeouts",
        "lookup attempts (GETs)",
    ];
    let colors = ["#6a3d9a", "#d33", "#e08a00", "#8c564b", "#555", "#1b9e77"];
    let _ = write!(
        html,
        "<h2>Retries, 429s and faults</h2>{}",
        marks_chart(&marks, &names, &colors, end_s, bucket_s)
    );

    // 5. Summary.
    html.push_str("<h2>Summary</h2><table>");
    if let Value::Object(map) = summary {
        // What a reader looks for first, then the rest in key order; three per row.
        let mut keys: Vec<&String> = SUMMARY_FIRST
            .iter()
            .filter_map(|k| map.get_key_value(*k).map(|(k, _)| k))
            .collect();
        keys.extend(map.keys().filter(|k| !SUMMARY_FIRST.contains(&k.as_str())));
        let shown = |key: &str| match &map[key] {
            Value::String(s) => s.clone(),
            Value::Null => "—".to_owned(),
            Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
            other => other.to_string(),
        };
        // A long value (a fault spec, the failures by code) gets a row of its own, the
        // width of the table: in a column it would push the table past the page.
        let (short, long): (Vec<&String>, Vec<&String>) = keys
            .into_iter()
            .partition(|k| shown(k).chars().count() <= LONG_VALUE);
        for row in short.chunks(3) {
            html.push_str("<tr>");
            for key in row {
                let _ = write!(
                    html,
                    "<td>{}</td><td>{}</td>",
                    escape(key),
                    escape(&shown(key))
                );
            }
            html.push_str("</tr>");
        }
        for key in long {
            let _ = write!(
                html,
                "<tr><td>{}</td><td colspan=\"5\" class=\"long\">{}</td></tr>",
                escape(key),
                escape(&shown(key))
            );
        }
    }
    html.push_str("</table></body></html>\n");
    html
}

/// Summary values longer than this (in characters) get a row of their own.
const LONG_VALUE: usize = 24;

/// The summary's first rows.
const SUMMARY_FIRST: [&str; 21] = [
    "run",
    "error",
    "users",
    "done",
    "created",
    "already_present",
    "failed",
    "lost",
    "duplicated",
    "requests",
    "retries",
    "http_429",
    "lookups",
    "wall_s",
    "achieved_rps",
    "quota",
    "quota_rps",
    "utilization",
    "max_window_requests",
    "p50_ms",
    "p99_ms",
];

/// A bucket width that gives at most 150 buckets.
fn bucket_width(end_s: f64) -> f64 {
    [
        0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0,
    ]
    .into_iter()
    .find(|w| end_s / w <= 150.0)
    .unwrap_or(3600.0)
}

fn max_of(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, f64::max)
}

/// `1234.5` → `1,234.5`; integers without decimals.
pub(crate) fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return crate::report::thousands(v.abs() as u64).chars().fold(
            if v < 0.0 {
                "-".to_owned()
            } else {
                String::new()
            },
            |mut s, c| {
                s.push(c);
                s
            },
        );
    }
    let digits = if v.abs() >= 100.0 {
        1
    } else if v.abs() >= 1.0 {
        2
    } else {
        3
    };
    // 0.2 as `0.2` (an axis tick), not `0.200`.
    let text = format!("{v:.digits$}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn seconds(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

fn legend(items: &[(&str, &str)]) -> String {
    let mut out = String::from("<div class=\"legend\">");
    for (color, label) in items {
        let _ = write!(
            out,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            escape(label)
        );
    }
    out.push_str("</div>");
    out
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svg::nice_step;

    fn sample_timeline() -> Arc<Timeline> {
        let t = Timeline::new();
        let start = t.start;
        for i in 0..2_000_u64 {
            let sent = start + Duration::from_millis(i * 10);
            let outcome = match i % 97 {
                0 => Outcome::ServerError,
                1 => Outcome::ConnectionLost,
                2 if i > 1_000 => Outcome::RateLimited,
                _ => Outcome::Answered,
            };
            t.record(
                sent,
                Duration::from_millis(20 + i % 60),
                outcome,
                (i % 97 == 3, i % 50 == 7),
            );
        }
        for i in 0..80_u32 {
            t.samples.lock().unwrap().push(Sample {
                at_ms: i * 250,
                window: Some(u64::from(i.min(40)) * 25),
            });
        }
        t
    }

    #[test]
    fn the_page_is_self_contained_and_has_every_chart() {
        let t = sample_timeline();
        let quota = QuotaLine {
            requests: 1000,
            window: Duration::from_secs(10),
        };
        let summary = serde_json::json!({"users": 2000, "lost": 0, "faults": "5xx=0.05"});
        let page = render(&t, "2,000 users", Some(quota), &summary);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert_eq!(
            page.matches("<svg").count(),
            4,
            "rps, window, latency, marks"
        );
        for absent in ["<script", " src=", "href=", "@import", "url("] {
            assert!(!page.contains(absent), "page contains {absent}");
        }
        assert!(
            page.contains("quota 100"),
            "the quota line is labelled with N/W per second"
        );
        assert!(page.contains("N = 1,000 per 10 s"));
        assert!(
            page.contains("40 retries"),
            "retries are the attempts that repeat an earlier request"
        );
        assert!(page.contains("5xx=0.05"));
        assert!(page.contains("21 lookup attempts (GETs)"));
        // 2,000 attempts, one per 10 ms: the 429s are only in the second half.
        assert!(page.contains(&format!(
            "{} 429s",
            (1_000..2_000).filter(|i| i % 97 == 2).count()
        )));
    }

    /// A client whose transport answers every request with an empty page, except
    /// the first attempt of a `limit=7` listing: a 503.
    fn client_of(timeline: &Arc<Timeline>) -> clerk_tower::Clerk {
        let failed_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let transport = tower::service_fn(move |request: clerk_core::ClerkRequest| {
            let fail = request.uri().query().is_some_and(|q| q.contains("limit=7"))
                && !failed_once.swap(true, std::sync::atomic::Ordering::SeqCst);
            async move {
                let response = http::Response::builder()
                    .status(if fail { 503 } else { 200 })
                    .header("content-type", "application/json")
                    .body(clerk_core::Body::from("[]"))
                    .expect("a response");
                Ok::<_, Error>(response)
            }
        });
        timeline
            .layer(clerk_tower::Clerk::builder())
            .secret_key("sk_test_report")
            .base_url("http://127.0.0.1:9/v1")
            .no_rate_limit()
            .retry_policy(
                clerk_layers::retry::RetryPolicy::new().with_max_delay(Duration::from_millis(1)),
            )
            .transport(transport)
            .build()
            .expect("a client")
    }

    #[tokio::test]
    async fn a_new_call_sending_a_request_again_is_no_retry() {
        use clerk_tower::users::ListUsers;
        let t = Timeline::new();
        let clerk = client_of(&t);
        // One lookup, then the same lookup again once it was answered (as the final
        // verification looks up a key the import looked up before): two calls.
        for _ in 0..2 {
            clerk
                .users()
                .list(ListUsers::new().limit(5))
                .await
                .expect("a page");
        }
        // A lookup whose first attempt got a 503: the retry layer sends it again.
        clerk
            .users()
            .list(ListUsers::new().limit(7))
            .await
            .expect("a page");
        assert_eq!(clerk.metrics().retries, 1);
        let page = render(&t, "retries", None, &serde_json::json!({}));
        assert!(
            page.contains(">1 retries (re-sent)<"),
            "one retry, the 503's: {page}"
        );
        assert!(page.contains(">4 lookup attempts (GETs)<"));
        assert!(page.contains(">1 5xx<"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_its_deadline_drops_is_a_timeout() {
        use clerk_tower::users::ListUsers;
        let t = Timeline::new();
        let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
        // The first attempt never answers; the attempt timeout drops it, the retry
        // layer sends the lookup again and it is answered.
        let transport = tower::service_fn(move |_request: clerk_core::ClerkRequest| {
            let hang = first.swap(false, std::sync::atomic::Ordering::SeqCst);
            async move {
                if hang {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Error>(
                    http::Response::builder()
                        .header("content-type", "application/json")
                        .body(clerk_core::Body::from("[]"))
                        .expect("a response"),
                )
            }
        });
        let clerk = t
            .layer(clerk_tower::Clerk::builder())
            .secret_key("sk_test_report")
            .base_url("http://127.0.0.1:9/v1")
            .no_rate_limit()
            .attempt_timeout(Duration::from_secs(2))
            .transport(transport)
            .build()
            .expect("a client");
        clerk.users().list(ListUsers::new()).await.expect("a page");
        let metrics = clerk.metrics();
        assert_eq!((metrics.attempts, metrics.retries), (2, 1));
        let page = render(&t, "timeouts", None, &serde_json::json!({}));
        assert!(
            page.contains("(2 attempts)"),
            "both attempts are drawn: {page}"
        );
        assert!(page.contains(">1 timeouts<"));
        assert!(page.contains(">1 retries (re-sent)<"));
    }

    #[test]
    fn a_failed_run_says_so_first_with_its_error_escaped() {
        let summary = serde_json::json!({
            "run": "failed",
            "error": "stopped: <b>502</b> & \"gone\"",
            "users": 5,
        });
        let page = render(&sample_timeline(), "5 users", None, &summary);
        let banner = page.find("The run failed:").expect("a failure banner");
        assert!(banner < page.find("<h2>").unwrap(), "before the charts");
        assert!(page.contains("stopped: &lt;b&gt;502&lt;/b&gt; &amp; &quot;gone&quot;"));
        assert!(!page.contains("<b>502"));
        let ok = render(
            &sample_timeline(),
            "5 users",
            None,
            &serde_json::json!({"users": 5}),
        );
        assert!(!ok.contains("The run failed"));
    }

    #[test]
    fn text_from_outside_is_escaped() {
        let t = Timeline::new();
        let summary =
            serde_json::json!({"faults": "<script>alert(1)</script>", "<b>": "x\u{1b}[2J"});
        let page = render(&t, "to http://x/\"><img src=y>", None, &summary);
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("<img"));
        assert!(!page.contains('\u{1b}'));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            page.contains("Not available"),
            "no window samples: said, not drawn empty"
        );
    }

    #[test]
    fn a_retry_is_told_apart_while_the_same_request_is_in_flight_twice() {
        let t = Timeline::new();
        // Two identical lookups at once: one fails, the other is answered, then the
        // failed one is sent again. That one attempt is the retry.
        assert!(!t.begins(7));
        assert!(!t.begins(7));
        t.ends(7, Outcome::ServerError);
        t.ends(7, Outcome::Answered);
        assert!(t.begins(7));
        t.ends(7, Outcome::Answered);
        assert!(!t.begins(7), "answered: a new call");
    }

    #[test]
    fn a_long_summary_value_gets_a_row_of_its_own() {
        let faults = "5xx=0.05,reset=0.02,lost_response=0.02,429=0.05,slow_apply=0.02";
        let summary = serde_json::json!({"users": 300, "faults": faults, "lost": 0});
        let page = render(&Timeline::new(), "300 users", None, &summary);
        assert!(page.contains(&format!(
            "<tr><td>faults</td><td colspan=\"5\" class=\"long\">{faults}</td></tr>"
        )));
        assert!(page.contains("<tr><td>users</td><td>300</td><td>lost</td><td>0</td></tr>"));
    }

    #[test]
    fn axes_use_round_steps() {
        assert_eq!(
            nice_step(100.0, 4.0),
            25.0_f64.max(nice_step(100.0, 4.0)).min(50.0)
        );
        assert_eq!(nice_step(1100.0, 4.0), 500.0);
        assert_eq!(nice_step(22.0, 8.0), 5.0);
        assert_eq!(bucket_width(22.0), 0.5);
        assert_eq!(bucket_width(10_000.0), 300.0);
        assert_eq!(number(1000.0), "1,000");
        assert_eq!(number(99.25), "99.25");
        assert_eq!(number(0.2), "0.2");
        assert_eq!(number(0.178), "0.178");
        assert_eq!(number(28.9), "28.9");
        assert_eq!(number(120.04), "120");
    }
}
