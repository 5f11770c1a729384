//! The shared limiter state: GCRA on governor, a FIFO queue, the 429 cooldown,
//! the per-user limit and the counters behind [`RateLimitSnapshot`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use tokio::time::Instant;

use super::Quota;
#[cfg(feature = "redis")]
use super::redis::RedisBackend;

/// Default pause after a 429 that carries no `Retry-After`.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(1);

/// Default longest cooldown one 429 can impose, whatever its `Retry-After` says:
/// a forged or broken `Retry-After: 86400` must not stall every clone for a day.
/// Matches the retry policy's default `Retry-After` cap.
pub const DEFAULT_MAX_COOLDOWN: Duration = Duration::from_secs(30);

/// Per-user checks between two sweeps of idle per-user entries.
const SWEEP_EVERY: u64 = 256;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// governor's clock, driven by tokio's clock so `tokio::time::pause` controls it:
/// the time elapsed since the limiter was created.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokioClock {
    start: Instant,
}

impl TokioClock {
    fn at(&self, reference: Duration) -> Instant {
        self.start + reference
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }
}

type Direct = governor::RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;
type Keyed =
    governor::RateLimiter<String, HashMapStateStore<String>, TokioClock, NoOpMiddleware<Duration>>;

/// A point-in-time view of a [`RateLimiter`], for progress reports and metrics.
///
/// Grants per second are `granted` deltas divided by the time between two snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitSnapshot {
    /// Requests let through since the limiter was created.
    pub granted: u64,
    /// Requests waiting right now (for their user's limit, the cooldown or the
    /// global limiter).
    pub waiting: usize,
    /// How much longer every request is held back because of a 429, if at all.
    pub cooldown_remaining: Option<Duration>,
    /// Total time requests spent waiting in the limiter.
    pub total_wait: Duration,
    /// 429 responses seen since the limiter was created.
    pub rate_limited_responses: u64,
    /// Users currently tracked by the per-user limit (idle ones are evicted).
    pub tracked_users: usize,
    /// Whether the quota is this process's alone, shared through Redis, or (Redis
    /// being unreachable) a local share of it.
    pub coordination: Coordination,
    /// Times the limiter fell back from Redis to a local share.
    pub failovers: u64,
    /// Grants taken from the local share while Redis was unreachable.
    pub fallback_grants: u64,
    /// Live workers sharing the quota, as Redis last reported them (0: local backend).
    pub workers_seen: u32,
}

/// How a [`RateLimiter`]'s quota is coordinated with other processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Coordination {
    /// The local backend: this process has the quota to itself.
    #[default]
    Local,
    /// The Redis backend, sharing the quota with every worker using that Redis.
    Shared,
    /// The Redis backend while Redis is unreachable: a local share of the quota.
    Fallback,
}

struct Shared {
    quota: Quota,
    per_user_quota: Quota,
    clock: TokioClock,
    global: Direct,
    per_user: Keyed,
    /// Fair (FIFO) lock: only the head of the queue sleeps on the limiter, the
    /// others wait their turn without polling it.
    queue: tokio::sync::Mutex<()>,
    /// Requests in the FIFO line: waiting for `queue` or holding it. An on-the-spot
    /// grant needs it at 0, so it never passes anyone in line; one atomic load,
    /// where `queue.try_lock()` cost a lock and, on release, the semaphore's mutex.
    in_line: AtomicUsize,
    /// Nanoseconds after `clock.start` until which nothing may be sent; 0 = none.
    blocked_until: AtomicU64,
    /// Cap on one cooldown, in nanoseconds.
    max_cooldown_nanos: AtomicU64,
    granted: AtomicU64,
    waiting: AtomicUsize,
    total_wait_nanos: AtomicU64,
    rate_limited: AtomicU64,
    per_user_checks: AtomicU64,
    /// Off after [`RateLimiter::without_per_user_limit`].
    per_user_limit: AtomicBool,
    /// Grants come from Redis when set; the fields above still count and cool down.
    #[cfg(feature = "redis")]
    redis: Option<RedisBackend>,
}

/// The client-side rate limiter of one Clerk instance (one secret key).
///
/// Cheap to clone: every clone, and every service built by a
/// [`RateLimitLayer`](super::RateLimitLayer) from it, shares one state, so all
/// requests of the instance draw from one quota, queue in one FIFO line and
/// respect one 429 cooldown.
///
/// Usable without the layer, e.g. to pace work that is not an HTTP request:
///
/// ```
/// use clerk_layers::rate_limit::{Quota, RateLimiter};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let limiter = RateLimiter::new(Quota::production());
/// let waited = limiter.acquire(None).await;
/// assert!(waited.as_millis() < 1000);
/// assert_eq!(limiter.snapshot().granted, 1);
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

impl RateLimiter {
    /// A limiter for `quota`, with Clerk's per-user limit ([`Quota::per_user`]).
    pub fn new(quota: Quota) -> Self {
        Self::with_per_user_quota(quota, Quota::per_user())
    }

    /// A limiter for `quota` with another per-user quota.
    pub fn with_per_user_quota(quota: Quota, per_user_quota: Quota) -> Self {
        Self::build(
            quota,
            per_user_quota,
            #[cfg(feature = "redis")]
            None,
        )
    }

    fn build(
        quota: Quota,
        per_user_quota: Quota,
        #[cfg(feature = "redis")] redis: Option<RedisBackend>,
    ) -> Self {
        let clock = TokioClock {
            start: Instant::now(),
        };
        Self {
            shared: Arc::new(Shared {
                quota,
                per_user_quota,
                clock,
                global: governor::RateLimiter::direct_with_clock(quota.to_governor(), clock),
                per_user: governor::RateLimiter::hashmap_with_clock(
                    per_user_quota.to_governor(),
                    clock,
                ),
                queue: tokio::sync::Mutex::new(()),
                in_line: AtomicUsize::new(0),
                blocked_until: AtomicU64::new(0),
                max_cooldown_nanos: AtomicU64::new(nanos(DEFAULT_MAX_COOLDOWN)),
                granted: AtomicU64::new(0),
                waiting: AtomicUsize::new(0),
                total_wait_nanos: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
                per_user_checks: AtomicU64::new(0),
                per_user_limit: AtomicBool::new(true),
                #[cfg(feature = "redis")]
                redis,
            }),
        }
    }

    /// A limiter on the Redis backend, sharing `quota` and `per_user_quota` with every
    /// limiter of the same secret key and key prefix on that Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn with_redis(quota: Quota, per_user_quota: Quota, backend: RedisBackend) -> Self {
        Self::build(quota, per_user_quota, Some(backend))
    }

    /// Spends the burst, so the first grant waits one period (a fresh fallback share
    /// must not add a burst on top of what was just sent through the shared quota).
    #[cfg(feature = "redis")]
    pub(crate) fn drain(&self) {
        let burst = std::num::NonZeroU32::new(self.shared.quota.burst())
            .unwrap_or(std::num::NonZeroU32::MIN);
        let _ = self.shared.global.check_n(burst);
    }

    /// Caps the pause one 429 imposes ([`DEFAULT_MAX_COOLDOWN`] by default): a
    /// longer `Retry-After` pauses for `max` only. The call that drew such a 429
    /// fails anyway (the retry policy does not wait above its own cap), so the
    /// cap only keeps one answer from blocking every other clone for longer.
    #[must_use]
    pub fn with_max_cooldown(self, max: Duration) -> Self {
        self.shared
            .max_cooldown_nanos
            .store(nanos(max), Ordering::Relaxed);
        self
    }

    /// The instance quota.
    pub fn quota(&self) -> Quota {
        self.shared.quota
    }

    /// The per-user quota (applied only while [`limits_per_user`](Self::limits_per_user)).
    pub fn per_user_quota(&self) -> Quota {
        self.shared.per_user_quota
    }

    /// Turns the per-user limit off: user updates then count against the
    /// instance quota only, however many go to one user. For every clone of
    /// this limiter (they share one state), so call it before sharing it.
    #[must_use]
    pub fn without_per_user_limit(self) -> Self {
        self.shared.per_user_limit.store(false, Ordering::Relaxed);
        self
    }

    /// Whether requests wait for their user's quota (on unless
    /// [`without_per_user_limit`](Self::without_per_user_limit)).
    pub fn limits_per_user(&self) -> bool {
        self.shared.per_user_limit.load(Ordering::Relaxed)
    }

    /// Waits until one request may be sent, and counts it as sent. Returns how
    /// long it waited.
    ///
    /// With `per_user_key` it first waits for that user's limit, *before* joining
    /// the instance-wide line, so one hot user does not stall everybody else.
    /// Then it waits, first come first served, for any 429 cooldown and for the
    /// instance quota. Dropping the future before it completes takes nothing.
    pub async fn acquire(&self, per_user_key: Option<&str>) -> Duration {
        let started = Instant::now();
        let _waiting = WaitingGuard::new(&self.shared.waiting);
        if let Some(key) = per_user_key {
            self.wait_per_user(key).await;
        }
        self.wait_global().await;
        self.finish(started.elapsed())
    }

    pub(crate) fn waiting_guard(&self) -> WaitingGuard<'_> {
        WaitingGuard::new(&self.shared.waiting)
    }

    /// Waits for `key`'s per-user quota and takes one cell of it (at once when
    /// the per-user limit is off).
    pub(crate) async fn wait_per_user(&self, key: &str) {
        if !self.limits_per_user() {
            return;
        }
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.shared.redis {
            return redis.wait_per_user(key).await;
        }
        self.local_wait_per_user(key).await;
    }

    /// [`Self::wait_per_user`] on the local backend.
    pub(crate) async fn local_wait_per_user(&self, key: &str) {
        let shared = &*self.shared;
        let key = key.to_owned();
        loop {
            match shared.per_user.check_key(&key) {
                Ok(()) => break,
                Err(not_until) => {
                    tokio::time::sleep_until(shared.clock.at(not_until.earliest_possible())).await
                }
            }
        }
        let checks = shared.per_user_checks.fetch_add(1, Ordering::Relaxed) + 1;
        if checks.is_multiple_of(SWEEP_EVERY) {
            // Entries whose quota has fully refilled are indistinguishable from new
            // ones: dropping them keeps memory bounded by the users active within
            // one window.
            shared.per_user.retain_recent();
        }
    }

    /// Waits in the FIFO line for the cooldown and one grant of the global quota.
    pub(crate) async fn wait_global(&self) {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.shared.redis {
            // This process's own cooldown first (it starts at once; Redis's a round trip later).
            while let Some(remaining) = self.cooldown_remaining() {
                tokio::time::sleep(remaining).await;
            }
            return redis.wait_global().await;
        }
        self.local_wait_global().await;
    }

    /// [`Self::wait_global`] on the local backend.
    pub(crate) async fn local_wait_global(&self) {
        let shared = &*self.shared;
        // Counted before queueing and until the turn is given up (also when this
        // future is dropped), so `try_grant_now` sees everyone in line.
        let _in_line = WaitingGuard::new(&shared.in_line);
        let _turn = shared.queue.lock().await;
        loop {
            if let Some(until) = self.blocked_until()
                && until > Instant::now()
            {
                tokio::time::sleep_until(until).await;
                continue;
            }
            match shared.global.check() {
                Ok(()) => return,
                Err(not_until) => {
                    tokio::time::sleep_until(shared.clock.at(not_until.earliest_possible())).await
                }
            }
        }
    }

    /// Takes one grant of the global quota if that needs no waiting: nobody is in
    /// the queue, no cooldown runs and the quota has a cell. Keeps the FIFO order:
    /// nobody passes a request that is in line (waiting for its turn or holding it).
    pub(crate) fn try_grant_now(&self) -> bool {
        let shared = &*self.shared;
        #[cfg(feature = "redis")]
        if shared.redis.is_some() {
            return false;
        }
        if self
            .blocked_until()
            .is_some_and(|until| until > Instant::now())
        {
            return false;
        }
        if shared.in_line.load(Ordering::Acquire) != 0 {
            return false;
        }
        shared.global.check().is_ok()
    }

    /// Records a grant that waited `waited`; returns it.
    pub(crate) fn finish(&self, waited: Duration) -> Duration {
        let shared = &*self.shared;
        shared.granted.fetch_add(1, Ordering::Relaxed);
        shared.total_wait_nanos.fetch_add(
            u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        waited
    }

    /// Reports a 429: every request through this limiter is held back for
    /// `retry_after` ([`DEFAULT_COOLDOWN`] when the response had none, at most
    /// [`RateLimiter::with_max_cooldown`]), because Clerk keeps rejecting requests
    /// until then. A shorter pause never cuts a longer one short.
    ///
    /// The rate limit layer calls this for every 429 it sees; call it yourself
    /// when you use the limiter without the layer.
    pub fn note_rate_limited(&self, retry_after: Option<Duration>) {
        let shared = &*self.shared;
        shared.rate_limited.fetch_add(1, Ordering::Relaxed);
        let max = Duration::from_nanos(shared.max_cooldown_nanos.load(Ordering::Relaxed));
        let pause = retry_after.unwrap_or(DEFAULT_COOLDOWN).min(max);
        let until = shared.clock.now().saturating_add(pause);
        let until = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX).max(1);
        shared.blocked_until.fetch_max(until, Ordering::AcqRel);
        #[cfg(feature = "redis")]
        if let Some(redis) = &shared.redis {
            redis.note_rate_limited(pause);
        }
    }

    fn blocked_until(&self) -> Option<Instant> {
        match self.shared.blocked_until.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(self.shared.clock.at(Duration::from_nanos(nanos))),
        }
    }

    /// How much longer requests are held back because of a 429, if at all.
    pub fn cooldown_remaining(&self) -> Option<Duration> {
        let until = self.blocked_until()?;
        let remaining = until.saturating_duration_since(Instant::now());
        (!remaining.is_zero()).then_some(remaining)
    }

    /// Current counters.
    pub fn snapshot(&self) -> RateLimitSnapshot {
        let shared = &*self.shared;
        #[allow(unused_mut)] // written only with the `redis` feature
        let mut snapshot = RateLimitSnapshot {
            granted: shared.granted.load(Ordering::Relaxed),
            waiting: shared.waiting.load(Ordering::Relaxed),
            cooldown_remaining: self.cooldown_remaining(),
            total_wait: Duration::from_nanos(shared.total_wait_nanos.load(Ordering::Relaxed)),
            rate_limited_responses: shared.rate_limited.load(Ordering::Relaxed),
            tracked_users: shared.per_user.len(),
            coordination: Coordination::Local,
            failovers: 0,
            fallback_grants: 0,
            workers_seen: 0,
        };
        #[cfg(feature = "redis")]
        if let Some(redis) = &shared.redis {
            snapshot.coordination = redis.coordination();
            snapshot.failovers = redis.failovers();
            snapshot.fallback_grants = redis.fallback_grants();
            snapshot.workers_seen = redis.workers_seen();
        }
        snapshot
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("quota", &self.shared.quota)
            .field("per_user_quota", &self.shared.per_user_quota)
            .field("limits_per_user", &self.limits_per_user())
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

/// Counts a waiting request (or one in the FIFO line) for as long as it lives, also
/// when its future is dropped.
pub(crate) struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(counter)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
