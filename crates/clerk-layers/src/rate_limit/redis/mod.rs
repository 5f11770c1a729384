// Over 600 lines (~720 without tests) on purpose: reservation, fallback to the local share
// and the return to the shared quota are one state machine over private state; the Lua
// scripts live beside it.
//! The Redis backend of [`RateLimiter`]: one quota shared by every process and
//! machine that uses the same secret key and Redis.
//!
//! Each grant is a *reservation*: one Lua script, atomic on the Redis server, reads
//! the server's clock (`TIME`, microseconds), books the next free slot of a GCRA
//! bucket and answers how long the caller waits for it. One round trip per request,
//! no polling, and slots are handed out in the order the bookings reach Redis, across
//! all workers. The bucket uses the burst and spacing [`Quota`] derives, so all
//! workers together never put more than `N` requests in any window `W`, with a
//! window margin of at least [`DEFAULT_SHARED_WINDOW_MARGIN`] (workers on several
//! machines reach Clerk with different delays; [`RedisOptions::window_margin`]). A slot is
//! booked at most [`RedisOptions::booking_horizon`] ahead; a caller whose slot would
//! lie further out books again when it comes within reach.
//!
//! Shared, like the local limiter shares them between clones: the instance quota,
//! the per-user quota on user updates (one bucket per user), and the 429 cooldown
//! (one worker's 429 pauses every worker until its `Retry-After`).
//!
//! Keys are `PREFIX:{HASH}:…`, where `HASH` is a SHA-256 of the secret key (never the
//! key itself) and `PREFIX` defaults to `clerk-tower`; idle keys expire.
//!
//! # When Redis fails
//!
//! A booking that fails or takes longer than [`RedisOptions::timeout`] switches the
//! limiter to a **local share** of the quota: `1 / expected workers` (or
//! [`RedisOptions::fallback_share`], or less when Redis last reported more live
//! workers), paced by the local GCRA. It is logged once (a `warn` event), shown in
//! [`RateLimitSnapshot::coordination`], and Redis is probed in the background. So
//! that slots other workers booked before Redis went away never overlap the shares,
//! the fallback starts one booking horizon after the failure (per-user requests one
//! per-user window after it), without a burst. When a probe succeeds, every worker
//! returns to the shared quota at one time Redis fixes, a short delay later; the
//! shares are spent until then. It never fails open at the full quota, and never
//! waits on Redis longer than the timeout.
//!
//! # Example
//!
//! ```no_run
//! use clerk_core::SecretKey;
//! use clerk_layers::rate_limit::{Quota, RateLimiter, RedisOptions};
//!
//! # fn main() -> Result<(), clerk_core::Error> {
//! let key = SecretKey::new(std::env::var("CLERK_SECRET_KEY").unwrap_or_default());
//! // Was: RateLimiter::new(Quota::for_key(&key))
//! let limiter = RateLimiter::redis(
//!     Quota::for_key(&key),
//!     RedisOptions::new("redis://127.0.0.1:6379", &key)?.expected_workers(4),
//! );
//! # let _ = limiter;
//! # Ok(())
//! # }
//! ```
//!
//! [`RateLimiter`]: super::RateLimiter
//! [`RateLimitSnapshot::coordination`]: super::RateLimitSnapshot::coordination

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use clerk_core::{Error, SecretKey};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{Coordination, Quota, RateLimiter};

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "clerk-tower";
/// Default longest wait for one Redis reply before falling back.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// Default longest booking horizon (shorter for quotas with a shorter window).
pub const DEFAULT_BOOKING_HORIZON: Duration = Duration::from_secs(2);
/// Default least window margin on the Redis backend (see [`Quota::with_window_margin`]):
/// workers on several machines reach Clerk with different delays, and a request a
/// worker sends late can land beside the next worker's on time, so the margin must
/// cover the spread of those delays, not one process's timer lateness.
pub const DEFAULT_SHARED_WINDOW_MARGIN: Duration = Duration::from_millis(100);
/// Default time between two probes of Redis while in fallback.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// How long after the first worker is back everyone resumes the shared quota: several
/// probe intervals, so that the other workers have noticed too.
const RESUME_DELAY: Duration = Duration::from_millis(1_000);

/// How to reach Redis and share the quota through it. See the [module docs](self).
#[derive(Clone)]
pub struct RedisOptions {
    client: redis::Client,
    key_hash: String,
    prefix: String,
    expected_workers: u32,
    fallback_share: Option<f64>,
    timeout: Duration,
    booking_horizon: Option<Duration>,
    window_margin: Duration,
}

impl RedisOptions {
    /// Options for the Redis at `url` (`redis://[:password@]host:port[/db]`), shared
    /// by every limiter of the instance `secret_key` belongs to. Connects lazily (on
    /// the first grant); fails only on a malformed URL.
    pub fn new(url: &str, secret_key: &SecretKey) -> Result<Self, Error> {
        // The URL may hold a password: the error says what is wrong, not what it was.
        let client = redis::Client::open(url).map_err(|err| {
            Error::invalid_request(format!("invalid Redis URL ({})", err.category()))
        })?;
        let mut hasher = Sha256::new();
        hasher.update(b"clerk-tower rate limit\0");
        hasher.update(secret_key.expose().as_bytes());
        let digest = hasher.finalize();
        Ok(Self {
            client,
            key_hash: hex_prefix(&digest, 16),
            prefix: DEFAULT_PREFIX.to_owned(),
            expected_workers: 1,
            fallback_share: None,
            timeout: DEFAULT_REDIS_TIMEOUT,
            booking_horizon: None,
            window_margin: DEFAULT_SHARED_WINDOW_MARGIN,
        })
    }

    /// The key prefix (default `clerk-tower`), so several tools can share one Redis.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How many workers share the quota: while Redis is unreachable each takes
    /// `1 / n` of it (default 1; 0 counts as 1). When Redis last reported more live
    /// workers, their number is used instead.
    pub fn expected_workers(mut self, n: u32) -> Self {
        self.expected_workers = n.max(1);
        self
    }

    /// The fraction of the quota this worker takes while Redis is unreachable,
    /// instead of `1 / expected workers`. Fails unless `0 < share ≤ 1`.
    pub fn fallback_share(mut self, share: f64) -> Result<Self, Error> {
        if !(share > 0.0 && share <= 1.0) {
            return Err(Error::invalid_request(
                "the fallback share must be a fraction in (0, 1]",
            ));
        }
        self.fallback_share = Some(share);
        Ok(self)
    }

    /// The longest wait for one Redis reply (default 500 ms); slower counts as down.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How far ahead a slot may be booked (default: the quota's window, at most 2 s).
    /// Longer lets more requests queue in arrival order; shorter wastes fewer slots when
    /// a worker dies with bookings, and shortens the pause at a fall-back.
    pub fn booking_horizon(mut self, horizon: Duration) -> Self {
        self.booking_horizon = Some(horizon.max(Duration::from_millis(1)));
        self
    }

    /// The least window margin of the shared quotas (default 100 ms): a quota whose own
    /// margin is smaller is paced with this one. Zero keeps the quota's margin.
    pub fn window_margin(mut self, margin: Duration) -> Self {
        self.window_margin = margin;
        self
    }

    /// `quota` with at least this margin (unchanged if the margin exceeds its window).
    fn widened(&self, quota: Quota) -> Quota {
        if quota.window_margin() >= self.window_margin {
            return quota;
        }
        quota
            .with_window_margin(self.window_margin)
            .unwrap_or(quota)
    }

    /// The share of the quota taken while Redis is unreachable, given how many live
    /// workers Redis last reported.
    fn share(&self, workers_seen: u32) -> f64 {
        let by_count = 1.0 / f64::from(self.expected_workers.max(workers_seen).max(1));
        self.fallback_share.map_or(by_count, |s| s.min(by_count))
    }
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither the URL (it may carry a password) nor the key hash.
        f.debug_struct("RedisOptions")
            .field("prefix", &self.prefix)
            .field("expected_workers", &self.expected_workers)
            .field("fallback_share", &self.fallback_share)
            .field("timeout", &self.timeout)
            .field("booking_horizon", &self.booking_horizon)
            .field("window_margin", &self.window_margin)
            .finish_non_exhaustive()
    }
}

fn hex_prefix(bytes: &[u8], len: usize) -> String {
    use std::fmt::Write;
    bytes.iter().take(len).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl RateLimiter {
    /// A limiter whose quota, Clerk's per-user limit ([`Quota::per_user`]) and 429
    /// cooldown are shared through Redis with every limiter of the same secret key and
    /// key prefix, in this process or any other. See the [module docs](self).
    pub fn redis(quota: Quota, options: RedisOptions) -> Self {
        Self::redis_with_per_user_quota(quota, Quota::per_user(), options)
    }

    /// [`RateLimiter::redis`] with another per-user quota.
    pub fn redis_with_per_user_quota(
        quota: Quota,
        per_user_quota: Quota,
        options: RedisOptions,
    ) -> Self {
        let (quota, per_user_quota) = (options.widened(quota), options.widened(per_user_quota));
        let backend = RedisBackend::new(quota, per_user_quota, options);
        Self::with_redis(quota, per_user_quota, backend)
    }
}

/// GCRA parameters of one bucket, in microseconds (the scripts' unit).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    period_us: u64,
    tolerance_us: u64,
}

impl Bucket {
    fn of(quota: &Quota) -> Self {
        // Rounded up: a longer period only makes the window bound tighter.
        let period_us = u64::try_from(quota.period().as_nanos().div_ceil(1_000))
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            period_us,
            tolerance_us: period_us.saturating_mul(u64::from(quota.burst() - 1)),
        }
    }
}

/// What a reservation answered.
enum Booking {
    /// Booked: send after this wait.
    Booked(Duration),
    /// Beyond the horizon: ask again after this wait.
    Later(Duration),
}

/// Sleeps until a booked slot, and not at all for a slot that is now: tokio rounds a
/// timer up to its next millisecond tick, so `sleep(ZERO)` would add up to a
/// millisecond to every grant that needs no waiting (a loopback booking takes ~20 µs).
async fn until_slot(wait: Duration) {
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

enum Mode {
    Shared,
    /// Redis is unreachable: local shares, from `start_at` (`user_start_at` for
    /// per-user requests).
    Fallback {
        limiter: RateLimiter,
        start_at: Instant,
        user_start_at: Instant,
    },
    /// Redis is back: the shares are spent until `shared_at`, then shared bookings resume.
    Returning {
        limiter: RateLimiter,
        start_at: Instant,
        user_start_at: Instant,
        shared_at: Instant,
    },
}

/// Where a request takes its grant.
enum Route {
    Shared,
    Local {
        limiter: RateLimiter,
        not_before: Instant,
        user_not_before: Instant,
    },
}

struct Keys {
    global: String,
    cooldown: String,
    resume: String,
    user_resume: String,
    workers: String,
    user_prefix: String,
}

struct Inner {
    options: RedisOptions,
    connection: OnceCell<ConnectionManager>,
    keys: Keys,
    global: Bucket,
    per_user: Bucket,
    quota: Quota,
    per_user_quota: Quota,
    horizon: Duration,
    worker_id: String,
    reserve: redis::Script,
    cooldown: redis::Script,
    resume: redis::Script,
    mode: Mutex<Mode>,
    /// Only the head of this process's refused callers asks Redis again (no herd).
    refused_line: tokio::sync::Mutex<()>,
    failovers: AtomicU64,
    fallback_grants: AtomicU64,
    workers_seen: AtomicU32,
}

/// The Redis side of a [`RateLimiter`]: cheap to clone.
#[derive(Clone)]
pub(crate) struct RedisBackend {
    inner: Arc<Inner>,
}

impl RedisBackend {
    pub(crate) fn new(quota: Quota, per_user_quota: Quota, options: RedisOptions) -> Self {
        let base = format!("{}:{{{}}}", options.prefix, options.key_hash);
        let keys = Keys {
            global: format!("{base}:instance"),
            cooldown: format!("{base}:cooldown"),
            resume: format!("{base}:resume"),
            user_resume: format!("{base}:user-resume"),
            workers: format!("{base}:workers"),
            user_prefix: format!("{base}:user:"),
        };
        let horizon = options
            .booking_horizon
            .unwrap_or_else(|| DEFAULT_BOOKING_HORIZON.min(quota.window()));
        let worker_id = format!(
            "{}-{:016x}",
            std::process::id(),
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        );
        Self {
            inner: Arc::new(Inner {
                options,
                connection: OnceCell::new(),
                keys,
                global: Bucket::of(&quota),
                per_user: Bucket::of(&per_user_quota),
                quota,
                per_user_quota,
                horizon,
                worker_id,
                reserve: redis::Script::new(include_str!("reserve.lua")),
                cooldown: redis::Script::new(include_str!("cooldown.lua")),
                resume: redis::Script::new(include_str!("resume.lua")),
                mode: Mutex::new(Mode::Shared),
                refused_line: tokio::sync::Mutex::new(()),
                failovers: AtomicU64::new(0),
                fallback_grants: AtomicU64::new(0),
                workers_seen: AtomicU32::new(0),
            }),
        }
    }

    /// Waits for one grant of the instance quota.
    pub(crate) async fn wait_global(&self) {
        self.wait(None).await;
    }

    /// Waits for one grant of `user`'s quota.
    pub(crate) async fn wait_per_user(&self, user: &str) {
        self.wait(Some(user)).await;
    }

    async fn wait(&self, user: Option<&str>) {
        let inner = &*self.inner;
        loop {
            match self.route() {
                Route::Shared => match self.book(user).await {
                    Ok(Booking::Booked(wait)) => {
                        until_slot(wait).await;
                        return;
                    }
                    Ok(Booking::Later(wait)) if user.is_some() => {
                        tokio::time::sleep(wait).await;
                    }
                    Ok(Booking::Later(wait)) => {
                        // Refused callers of the instance bucket queue here, so one of
                        // them asks Redis per freed slot, not all of them.
                        let turn = inner.refused_line.lock().await;
                        let mut wait = wait;
                        loop {
                            tokio::time::sleep(wait).await;
                            match self.book(None).await {
                                Ok(Booking::Booked(wait)) => {
                                    drop(turn);
                                    until_slot(wait).await;
                                    return;
                                }
                                Ok(Booking::Later(again)) => wait = again,
                                Err(err) => {
                                    self.fail_over(&err);
                                    break;
                                }
                            }
                        }
                    }
                    Err(err) => self.fail_over(&err),
                },
                Route::Local {
                    limiter,
                    not_before,
                    user_not_before,
                } => {
                    match user {
                        Some(user) => {
                            tokio::time::sleep_until(user_not_before).await;
                            limiter.local_wait_per_user(user).await;
                        }
                        None => {
                            tokio::time::sleep_until(not_before).await;
                            limiter.local_wait_global().await;
                        }
                    }
                    // A grant of the share that came after shared bookings resumed
                    // would overlap them: book a shared slot instead.
                    if matches!(self.route(), Route::Shared) {
                        continue;
                    }
                    if user.is_none() {
                        inner.fallback_grants.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
            }
        }
    }

    fn route(&self) -> Route {
        let mut mode = self.lock_mode();
        let now = Instant::now();
        match &*mode {
            Mode::Shared => Route::Shared,
            Mode::Fallback {
                limiter,
                start_at,
                user_start_at,
            } => Route::Local {
                limiter: limiter.clone(),
                not_before: *start_at,
                user_not_before: *user_start_at,
            },
            Mode::Returning { shared_at, .. } if *shared_at <= now => {
                *mode = Mode::Shared;
                tracing::info!(
                    target: "clerk_layers::rate_limit",
                    "rate limit: Redis is back; sharing the quota again"
                );
                Route::Shared
            }
            Mode::Returning {
                limiter,
                start_at,
                user_start_at,
                ..
            } => Route::Local {
                limiter: limiter.clone(),
                not_before: *start_at,
                user_not_before: *user_start_at,
            },
        }
    }

    fn lock_mode(&self) -> std::sync::MutexGuard<'_, Mode> {
        // The mode is a plain value: a panic elsewhere cannot leave it half-written.
        self.inner
            .mode
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let inner = &*self.inner;
        inner
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(inner.options.timeout))
                    .set_response_timeout(Some(inner.options.timeout))
                    // Reconnection is retried by the next call (or probe), not inside one.
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(inner.options.timeout);
                ConnectionManager::new_lazy_with_config(inner.options.client.clone(), config)
            })
            .await
            .cloned()
    }

    /// One reservation, bounded by the timeout.
    async fn book(&self, user: Option<&str>) -> Result<Booking, Failure> {
        let inner = &*self.inner;
        let (bucket, key, resume) = match user {
            None => (inner.global, inner.keys.global.clone(), &inner.keys.resume),
            Some(user) => (
                inner.per_user,
                format!("{}{}", inner.keys.user_prefix, user_key(user)),
                &inner.keys.user_resume,
            ),
        };
        let mut invocation = inner.reserve.prepare_invoke();
        invocation
            .key(key)
            .key(&inner.keys.cooldown)
            .key(resume)
            .key(&inner.keys.workers)
            .arg(bucket.period_us)
            .arg(bucket.tolerance_us)
            .arg(micros(inner.horizon))
            .arg(&inner.worker_id)
            .arg(micros(inner.quota.window()).saturating_mul(2));
        let (booked, wait, workers): (i64, i64, u32) = self.run(&invocation).await?;
        inner.workers_seen.store(workers, Ordering::Relaxed);
        let wait = Duration::from_micros(u64::try_from(wait).unwrap_or(0));
        Ok(if booked == 1 {
            Booking::Booked(wait)
        } else {
            Booking::Later(wait)
        })
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, Failure> {
        let call = async {
            let mut connection = self.connection().await?;
            invocation.invoke_async(&mut connection).await
        };
        match tokio::time::timeout(self.inner.options.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(Failure::Redis(err)),
            Err(_) => Err(Failure::Timeout(self.inner.options.timeout)),
        }
    }

    /// Switches to the local share (once per outage) and starts probing Redis.
    fn fail_over(&self, failure: &Failure) {
        let inner = &*self.inner;
        let mut mode = self.lock_mode();
        if !matches!(*mode, Mode::Shared) {
            return;
        }
        let share = inner
            .options
            .share(inner.workers_seen.load(Ordering::Relaxed));
        let limiter = RateLimiter::with_per_user_quota(
            local_share(inner.quota, share),
            local_share(inner.per_user_quota, share),
        );
        limiter.drain();
        let now = Instant::now();
        *mode = Mode::Fallback {
            limiter,
            // Slots booked before the failure lie at most one horizon ahead.
            start_at: now + inner.horizon,
            user_start_at: now + inner.horizon.max(inner.per_user_quota.window()),
        };
        drop(mode);
        inner.failovers.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            target: "clerk_layers::rate_limit",
            error = %failure,
            share,
            "rate limit: Redis unreachable; pacing on a local share of the quota until it is back"
        );
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(probe(weak));
    }

    /// Starts the shared 429 cooldown (in the background: the caller's own process
    /// already holds back through the local cooldown).
    pub(crate) fn note_rate_limited(&self, pause: Duration) {
        if !matches!(self.route(), Route::Shared) {
            return;
        }
        let this = self.clone();
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            let mut invocation = this.inner.cooldown.prepare_invoke();
            invocation.key(&this.inner.keys.cooldown).arg(micros(pause));
            if let Err(err) = this.run::<i64>(&invocation).await {
                this.fail_over(&err);
            }
        });
    }

    pub(crate) fn coordination(&self) -> Coordination {
        match self.route() {
            Route::Shared => Coordination::Shared,
            Route::Local { .. } => Coordination::Fallback,
        }
    }

    pub(crate) fn failovers(&self) -> u64 {
        self.inner.failovers.load(Ordering::Relaxed)
    }

    pub(crate) fn fallback_grants(&self) -> u64 {
        self.inner.fallback_grants.load(Ordering::Relaxed)
    }

    pub(crate) fn workers_seen(&self) -> u32 {
        self.inner.workers_seen.load(Ordering::Relaxed)
    }
}

impl Inner {
    async fn try_resume(self: &Arc<Self>) -> Result<Duration, Failure> {
        let backend = RedisBackend {
            inner: Arc::clone(self),
        };
        let mut invocation = self.resume.prepare_invoke();
        invocation
            .key(&self.keys.resume)
            .key(&self.keys.user_resume)
            .key(&self.keys.global)
            .arg(micros(RESUME_DELAY))
            .arg(micros(self.per_user_quota.window()))
            .arg(self.global.tolerance_us);
        let wait: i64 = backend.run(&invocation).await?;
        Ok(Duration::from_micros(u64::try_from(wait).unwrap_or(0)))
    }
}

/// Probes Redis until it answers, then schedules the return to the shared quota.
async fn probe(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Ok(wait) = inner.try_resume().await {
            let mut mode = inner
                .mode
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Mode::Fallback {
                limiter,
                start_at,
                user_start_at,
            } = &*mode
            {
                *mode = Mode::Returning {
                    limiter: limiter.clone(),
                    start_at: *start_at,
                    user_start_at: *user_start_at,
                    shared_at: Instant::now() + wait,
                };
            }
            return;
        }
    }
}

/// `share` of `quota`, through the quota's own head-room (so the same burst and
/// spacing derivation applies).
fn local_share(quota: Quota, share: f64) -> Quota {
    let headroom = 1.0 - (1.0 - quota.headroom()) * share;
    quota
        .with_headroom(headroom.clamp(0.0, 0.999_999))
        .unwrap_or(quota)
}

/// Per-user bucket name: a hash, so any path segment makes a short, safe key.
fn user_key(user: &str) -> String {
    hex_prefix(&Sha256::digest(user.as_bytes()), 12)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Why a Redis call did not answer.
#[derive(Debug)]
enum Failure {
    Redis(redis::RedisError),
    Timeout(Duration),
}

impl From<redis::RedisError> for Failure {
    fn from(err: redis::RedisError) -> Self {
        Self::Redis(err)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The kind and category only: a Redis error can quote the server's reply.
            Self::Redis(err) => write!(f, "{:?} ({})", err.kind(), err.category()),
            Self::Timeout(after) => write!(f, "no reply within {after:?}"),
        }
    }
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("options", &self.inner.options)
            .field("horizon", &self.inner.horizon)
            .field("coordination", &self.coordination())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slot_that_is_now_is_granted_without_a_timer_tick() {
        use futures_util::FutureExt;
        // Why: a zero sleep waits for the timer's next millisecond tick.
        assert!(tokio::time::sleep(Duration::ZERO).now_or_never().is_none());
        assert!(until_slot(Duration::ZERO).now_or_never().is_some());
        assert!(
            until_slot(Duration::from_millis(5))
                .now_or_never()
                .is_none()
        );
    }

    #[test]
    fn keys_hold_a_hash_of_the_secret_never_the_secret() {
        let key = SecretKey::new("sk_live_SUPERSECRET");
        let options = RedisOptions::new("redis://:hunter2@127.0.0.1:1/", &key)
            .unwrap()
            .prefix("tool-a");
        let backend = RedisBackend::new(Quota::production(), Quota::per_user(), options);
        let keys = &backend.inner.keys;
        for k in [
            &keys.global,
            &keys.cooldown,
            &keys.user_prefix,
            &keys.workers,
        ] {
            assert!(k.starts_with("tool-a:{"), "{k}");
            assert!(!k.contains("SUPERSECRET") && !k.contains("sk_live"), "{k}");
        }
        let other =
            RedisOptions::new("redis://127.0.0.1:1/", &SecretKey::new("sk_live_other")).unwrap();
        assert_ne!(other.key_hash, backend.inner.options.key_hash);
        let shown = format!("{backend:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("SUPERSECRET"),
            "{shown}"
        );
        assert!(!shown.contains(&backend.inner.options.key_hash), "{shown}");
    }

    #[test]
    fn bad_urls_and_shares_are_errors_without_the_url() {
        let key = SecretKey::new("sk_test_x");
        let err = RedisOptions::new("http://:hunter2@nowhere", &key).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let options = RedisOptions::new("redis://127.0.0.1:1", &key).unwrap();
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(options.clone().fallback_share(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_fallback_share_never_exceeds_one_worker_s_part() {
        let key = SecretKey::new("sk_test_x");
        let options = RedisOptions::new("redis://127.0.0.1:1", &key)
            .unwrap()
            .expected_workers(4);
        assert_eq!(options.share(0), 0.25);
        // Redis saw 8 live workers: each takes an eighth.
        assert_eq!(options.share(8), 0.125);
        let q = local_share(Quota::production(), options.share(4));
        assert_eq!(q.effective_requests(), 250);
        assert!(
            4 * (q.burst() + q.window().as_micros() as u32 / q.period().as_micros() as u32) <= 1000
        );
        let pinned = options.fallback_share(0.1).unwrap();
        assert_eq!(pinned.share(2), 0.1);
    }

    #[test]
    fn buckets_use_the_quota_s_derivation_rounded_up() {
        for quota in [Quota::production(), Quota::development(), Quota::per_user()] {
            let b = Bucket::of(&quota);
            let period = quota.period().as_nanos();
            assert!(u128::from(b.period_us) * 1000 >= period, "{quota:?}");
            assert!(u128::from(b.period_us) * 1000 < period + 1000, "{quota:?}");
            assert_eq!(b.tolerance_us, b.period_us * u64::from(quota.burst() - 1));
        }
        let d = Bucket::of(&Quota::development());
        assert_eq!((d.period_us, d.tolerance_us), (100_250, 0));
    }
}
