//! The import never leaves a request that may own the rate limiter's turn unpolled.
//!
//! The limiter queues requests first come, first served behind a fair
//! `tokio::sync::Mutex`: when a holder lets go, the turn is handed to the next
//! waiter whether or not anyone polls that waiter. A lookup parked inside a future
//! the run does not poll can therefore own the turn, and every request queued
//! behind it (the creates) waits for it forever. These tests force that schedule
//! with the real default stack (real rate-limit layer, a quota of one request per
//! 2 ms and a burst of 1, so every request but the first waits its turn) over an
//! in-process server, so it happens on every run, not by luck; a watchdog turns
//! a hang into a failure. A correct run takes a few seconds (debug build, most of
//! it the journal's fsyncs); the watchdog is 60 s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_migrate::import::{self, Item, NoProgress, Options, Summary};
use clerk_migrate::journal;
use clerk_tower::layers::rate_limit::{Quota, RateLimiter};
use clerk_tower::{Body, Clerk, ClerkRequest, ClerkResponse, Error};
use futures_util::stream::{self, Stream};
use serde_json::{Value, json};

/// Far longer than any correct run of these tests (a few seconds), far shorter
/// than the client's timeouts here (an hour), so a stall fails as a stall.
const WATCHDOG: Duration = Duration::from_secs(60);

/// An in-process Users API holding what it was sent: `GET /users?external_id=…`
/// answers the users with those external ids, `POST /users` creates one. With
/// [`Server::stop_script`], it also answers two creates with 429s (see there).
#[derive(Clone, Default)]
struct Server {
    users: Arc<Mutex<HashMap<String, Value>>>,
    creates: Arc<AtomicUsize>,
    lookups: Arc<AtomicUsize>,
    script: Option<Arc<StopScript>>,
    verify: Option<Arc<VerifyGate>>,
}

/// Tells whether the final verification has two list calls in flight at once: the
/// first lookup sent once every record is created is held until a second one
/// arrives (for 10 s at most).
struct VerifyGate {
    /// Records of the run: the verification starts when this many are created.
    records: usize,
    lookups: AtomicUsize,
    second: tokio::sync::Notify,
    overlapped: std::sync::atomic::AtomicBool,
}

/// The schedule of [`a_run_stopping_while_a_read_ahead_lookup_owns_the_turn_ends_and_resumes`].
#[derive(Default)]
struct StopScript {
    /// The first create is held here until the second 429 is answered.
    held: tokio::sync::Notify,
    state: Mutex<StopState>,
}

#[derive(Default)]
struct StopState {
    held_one: bool,
    triggered: bool,
    /// A lookup of the long ids was answered, and the one of the last long id not yet.
    long_batch_open: bool,
}

/// What the server answers one request with.
enum Answer {
    Now(http::StatusCode, Option<u64>, String),
    /// A 429 with this `Retry-After`, once [`StopScript::held`] is notified.
    Held(u64),
    /// This page of users, once a second verification lookup arrived (or 10 s passed).
    Verifying(String),
}

fn too_many(retry_after: u64) -> Answer {
    let error = json!({"errors": [{"code": "too_many_requests", "message": "slow down"}]});
    Answer::Now(
        http::StatusCode::TOO_MANY_REQUESTS,
        Some(retry_after),
        error.to_string(),
    )
}

impl Server {
    /// A server that holds the first create it gets; then answers the first create it
    /// gets while a lookup of the long ids is under way with `429 Retry-After: 1`,
    /// and at that moment answers the held one with `429 Retry-After: 3600`, longer
    /// than an import waits: the run stops.
    fn stop_script() -> Self {
        Self {
            script: Some(Arc::default()),
            ..Self::default()
        }
    }

    fn answer(&self, request: &ClerkRequest) -> Answer {
        let mut users = self.users.lock().unwrap();
        let mut hold_verification = false;
        if request.method() == http::Method::POST {
            if let Some(script) = &self.script {
                let mut state = script.state.lock().unwrap();
                if !state.held_one {
                    state.held_one = true;
                    return Answer::Held(3600);
                }
                if !state.triggered && state.long_batch_open {
                    state.triggered = true;
                    script.held.notify_one();
                    return too_many(1);
                }
            }
            let n = self.creates.fetch_add(1, Ordering::SeqCst);
            let body: Value = serde_json::from_slice(request.body().as_bytes()).unwrap();
            let external_id = body["external_id"].as_str().unwrap().to_owned();
            let user = json!({
                "object": "user", "id": format!("user_{n}"),
                "external_id": external_id, "created_at": 1_700_000_000_000_i64 + n as i64,
            });
            users.insert(external_id, user.clone());
            return Answer::Now(http::StatusCode::OK, None, user.to_string());
        }
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let verifying = self
            .verify
            .as_ref()
            .filter(|gate| self.creates.load(Ordering::SeqCst) == gate.records);
        if let Some(gate) = verifying {
            match gate.lookups.fetch_add(1, Ordering::SeqCst) {
                0 => hold_verification = true,
                1 => gate.second.notify_one(),
                _ => {}
            }
        }
        let query = request.uri().query().unwrap_or("");
        let ids: Vec<&str> = query
            .split('&')
            .filter_map(|pair| pair.strip_prefix("external_id="))
            .collect();
        if let Some(script) = &self.script
            && ids.iter().any(|id| id.starts_with("long-"))
        {
            let last = ids
                .iter()
                .any(|id| id.starts_with(&format!("long-{:04}-", LONG - 1)));
            script.state.lock().unwrap().long_batch_open = !last;
        }
        let found: Vec<&Value> = ids.iter().filter_map(|id| users.get(*id)).collect();
        let found = json!(found).to_string();
        if hold_verification {
            return Answer::Verifying(found);
        }
        Answer::Now(http::StatusCode::OK, None, found)
    }

    /// The default stack over this server, under a quota of one request per 2 ms
    /// (burst 1), with timeouts far past the watchdog.
    fn client(&self) -> Clerk {
        self.client_with(RateLimiter::new(quota()))
    }

    /// The same stack, drawing from `limiter`.
    fn client_with(&self, limiter: RateLimiter) -> Clerk {
        let server = self.clone();
        let transport = tower::service_fn(move |request: ClerkRequest| {
            let answer = server.answer(&request);
            let script = server.script.clone();
            let verify = server.verify.clone();
            async move {
                let (status, retry_after, body) = match answer {
                    Answer::Now(status, retry_after, body) => (status, retry_after, body),
                    Answer::Verifying(body) => {
                        if let Some(gate) = verify {
                            let second = gate.second.notified();
                            if tokio::time::timeout(Duration::from_secs(10), second)
                                .await
                                .is_ok()
                            {
                                gate.overlapped.store(true, Ordering::SeqCst);
                            }
                        }
                        (http::StatusCode::OK, None, body)
                    }
                    Answer::Held(retry_after) => {
                        if let Some(script) = script {
                            script.held.notified().await;
                        }
                        let error = json!({"errors": [{"code": "too_many_requests", "message": "slow down"}]});
                        (
                            http::StatusCode::TOO_MANY_REQUESTS,
                            Some(retry_after),
                            error.to_string(),
                        )
                    }
                };
                let mut response = http::Response::new(Body::from(body.into_bytes()));
                *response.status_mut() = status;
                if let Some(secs) = retry_after {
                    response
                        .headers_mut()
                        .insert(http::header::RETRY_AFTER, secs.into());
                }
                Ok::<ClerkResponse, Error>(response)
            }
        });
        Clerk::builder()
            .secret_key("sk_test_x")
            .base_url("http://127.0.0.1:1")
            .rate_limiter(limiter)
            .operation_timeout(Duration::from_secs(3600))
            .attempt_timeout(Duration::from_secs(3600))
            .transport(transport)
            .build()
            .unwrap()
    }
}

/// One request per 2 ms, a burst of 1: every request after the first waits its turn.
fn quota() -> Quota {
    let quota = Quota::new(1, Duration::from_millis(2)).unwrap();
    assert_eq!(quota.burst(), 1);
    quota
}

/// Records with these external ids, in order.
fn items(ids: &[String]) -> Vec<Item> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let body = json!({"external_id": id, "first_name": "Ada"});
            Item::new(i, i + 1, body.as_object().cloned().unwrap())
        })
        .collect()
}

/// 500 short ids (the first read-ahead batch: five list calls of 100), then `long`
/// ids of 1,000 bytes (six to a list call: URLs stay under 7 KB), so the second
/// batch makes more list calls than the first and is still looking up when the
/// first batch's records are handed to the creates.
fn two_batches(long: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..500).map(|i| format!("short-{i:04}")).collect();
    ids.extend((0..long).map(|i| format!("long-{i:04}-{}", "x".repeat(990))));
    ids
}

/// Long ids in the second batch of the stop test: 84 list calls.
const LONG: usize = 500;

/// Runs an import of `input` with `concurrency` creates in flight on the checkpoint
/// in `dir`, under the watchdog.
async fn import<S>(
    clerk: &Clerk,
    server: &Server,
    input: S,
    concurrency: usize,
    dir: &Path,
) -> Result<Summary, String>
where
    S: Stream<Item = Result<Item, String>>,
{
    let (replay, writer) = journal::open(&dir.join("checkpoint.jsonl")).unwrap();
    let options = Options {
        concurrency,
        ..Options::default()
    };
    let run = import::run(
        clerk,
        input,
        &replay,
        Arc::new(writer),
        options,
        Arc::new(NoProgress),
    );
    tokio::time::timeout(WATCHDOG, run).await.unwrap_or_else(|_| {
        panic!(
            "the import stalled after {} lookups and {} creates: nothing moved for {WATCHDOG:?} \
             (a request owning the limiter's turn is not polled)",
            server.lookups.load(Ordering::SeqCst),
            server.creates.load(Ordering::SeqCst),
        )
    })
}

/// A fresh scratch directory for one test's checkpoint.
/// The server got one create per record, and every record became a user.
fn assert_each_created_once(server: &Server, ids: &[String]) {
    assert_eq!(
        server.creates.load(Ordering::SeqCst),
        ids.len(),
        "one create per record"
    );
    let users = server.users.lock().unwrap();
    assert!(
        ids.iter().all(|id| users.contains_key(id)),
        "every record became a user"
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clerk-migrate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The schedule of the deadlock fixed in 664fdbe. Two read-ahead batches look
/// their records up at once, their list calls alternating in the limiter's FIFO
/// line; the first batch (5 calls) ends while the second (8 calls) has a call
/// waiting, to which the turn is handed. The first batch's 500 records go to the
/// creates (2 slots), which queue behind that call. The run had stopped polling
/// the read-ahead stream while every slot was full, so that call never ran and the
/// creates never got their turn: a hang, every time. Now the stream is polled
/// whenever the run waits, and every record is created exactly once.
#[tokio::test]
async fn a_read_ahead_lookup_owning_the_limiters_turn_does_not_stall_the_creates() {
    let server = Server::default();
    let clerk = server.client();
    let ids = two_batches(48);
    let dir = scratch("limiter-turn");
    let input = stream::iter(items(&ids).into_iter().map(Ok));
    let summary = import(&clerk, &server, input, 2, &dir).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(summary.created, ids.len(), "{summary:?}");
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert_eq!(summary.http_429, 0, "{summary:?}");
    assert_each_created_once(&server, &ids);
}

/// A run that stops while a read-ahead lookup owns the limiter's turn. The first
/// batch's records go to two create slots; the server holds the first create, and
/// answers the second, sent while the second batch (84 list calls) is still looking
/// up, with `429 Retry-After: 1`: the turn that create let go of goes to one of that
/// batch's list calls waiting (no other create waits: the other slot is held),
/// the 429 makes that call wait a second holding it, and the create's retry queues
/// behind it. Then the held create gets `429 Retry-After: 3600`, more than the run
/// waits: it stops. The stopped run no longer polled the read-ahead stream, so the
/// turn was never let go of and the run never ended. Now the stream is dropped
/// when the run stops: the retry gets its turn, the run stops resumably, and the
/// rerun creates the rest, every record exactly once.
#[tokio::test]
async fn a_run_stopping_while_a_read_ahead_lookup_owns_the_turn_ends_and_resumes() {
    let server = Server::stop_script();
    // The 429s hold every request back for 1 s at most.
    let limiter = RateLimiter::new(quota()).with_max_cooldown(Duration::from_secs(1));
    let clerk = server.client_with(limiter);
    let ids = two_batches(LONG);
    let dir = scratch("limiter-turn-stop");
    let input = stream::iter(items(&ids).into_iter().map(Ok));
    let stopped = import(&clerk, &server, input, 2, &dir).await.unwrap_err();
    assert!(stopped.contains("Retry-After"), "{stopped}");
    assert!(
        stopped.contains("rerun with the same --checkpoint"),
        "{stopped}"
    );
    let created_before = server.creates.load(Ordering::SeqCst);
    assert_eq!(
        created_before, 1,
        "the create retried after the 429 finished"
    );

    let clerk = server.client();
    let input = stream::iter(items(&ids).into_iter().map(Ok));
    let summary = import(&clerk, &server, input, 2, &dir).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(summary.skipped, created_before, "{summary:?}");
    assert_eq!(summary.created, ids.len() - created_before, "{summary:?}");
    assert!(summary.duplicates.is_empty(), "{summary:?}");
    assert_each_created_once(&server, &ids);
}

/// The final verification sends its list calls several at once (they were sent one
/// at a time after 9496c80's 8 at once hung on the deadlock above): the server holds
/// the first verification lookup until a second one arrives, which it never would
/// one at a time (then the held one is answered after 10 s, and this fails).
#[tokio::test]
async fn the_final_verification_sends_its_lookups_several_at_once() {
    let ids: Vec<String> = (0..300).map(|i| format!("user-{i:04}")).collect();
    let gate = Arc::new(VerifyGate {
        records: ids.len(),
        lookups: AtomicUsize::new(0),
        second: tokio::sync::Notify::new(),
        overlapped: std::sync::atomic::AtomicBool::new(false),
    });
    let server = Server {
        verify: Some(Arc::clone(&gate)),
        ..Server::default()
    };
    let clerk = server.client();
    let dir = scratch("limiter-turn-verify");
    let input = stream::iter(items(&ids).into_iter().map(Ok));
    let summary = import(&clerk, &server, input, 2, &dir).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(summary.created, ids.len(), "{summary:?}");
    assert_eq!(summary.verified_created, ids.len(), "{summary:?}");
    assert!(summary.duplicates.is_empty(), "{summary:?}");
    assert_eq!(
        gate.lookups.load(Ordering::SeqCst),
        3,
        "300 records verified in 3 list calls"
    );
    assert!(
        gate.overlapped.load(Ordering::SeqCst),
        "the verification's second list call was sent only after the first was answered"
    );
}
