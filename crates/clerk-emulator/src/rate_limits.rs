//! Clerk's rate limits as true sliding windows.
//!
//! Per instance: the timestamps of admitted requests in the last window are kept in a
//! `VecDeque`; a request is admitted when fewer than `limit` are in it. A rejected request is
//! not admitted (it does not count), gets `Retry-After` = seconds (rounded up) until the oldest
//! admitted request leaves the window, and its endpoint stays blocked for exactly that many
//! seconds. `PATCH /users/{id}` and `PATCH /users/{id}/metadata` also share a per-user window
//! of 10 requests per 10 s. A user's window is dropped once it is empty and the user is not
//! blocked: each admission and block queues the moment it runs out, and every request pops
//! what is due from the front, so expiry costs O(1) amortised however many users are active.
//!
//! All time arithmetic is checked: a window too long for the clock (the configuration refuses
//! those, but the limiter does not rely on it) means "not yet", never a panic.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Clerk's per-user limit on the two user-update endpoints.
pub(crate) const PER_USER_LIMIT: usize = 10;
pub(crate) const PER_USER_WINDOW: Duration = Duration::from_secs(10);

fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    s.max(1)
}

/// `t + d`, or `None` past the end of the clock (read as "never").
fn after(t: Instant, d: Duration) -> Option<Instant> {
    t.checked_add(d)
}

/// Blocks `endpoint` for `secs` from `now`; a block past the end of the clock is not stored
/// (the full window refuses the next request anyway).
fn block_until(now: Instant, secs: u64) -> Option<Instant> {
    after(now, Duration::from_secs(secs))
}

#[derive(Debug)]
struct Window {
    len: Duration,
    admitted: VecDeque<Instant>,
}

impl Window {
    fn new(len: Duration) -> Self {
        Self {
            len,
            admitted: VecDeque::new(),
        }
    }

    fn evict(&mut self, now: Instant) {
        while let Some(&front) = self.admitted.front() {
            match after(front, self.len) {
                Some(leaves) if leaves <= now => {
                    self.admitted.pop_front();
                }
                _ => break,
            }
        }
    }

    /// With `limit` requests already in the window, how long until one more fits.
    fn wait(&self, now: Instant, limit: usize) -> Option<Duration> {
        if self.admitted.len() < limit {
            return None;
        }
        let idx = self.admitted.len() - limit;
        Some(match after(self.admitted[idx], self.len) {
            Some(free_at) => free_at.saturating_duration_since(now),
            None => Duration::MAX,
        })
    }
}

/// The limiter state of one instance.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: Option<usize>,
    per_user: bool,
    window: Window,
    max_in_window: u64,
    blocked: HashMap<&'static str, Instant>,
    users: HashMap<String, (Window, Option<Instant>)>,
    /// `(when it runs out, user)` for each per-user admission and block, in the order they
    /// happened. A user's last entry is due no sooner than its window empties and its block
    /// ends, so when that one is popped the user's state can go; an earlier one finds the
    /// user still active and is dropped.
    expiries: VecDeque<(Instant, String)>,
    /// How many entries of `expiries` were looked at (the tests bound it).
    #[cfg(test)]
    expired_checks: u64,
}

impl Limiter {
    /// `limit: None` admits everything but still measures the busiest window.
    pub(crate) fn new(limit: Option<usize>, window: Duration, per_user: bool) -> Self {
        Self {
            limit,
            per_user,
            window: Window::new(window),
            max_in_window: 0,
            blocked: HashMap::new(),
            users: HashMap::new(),
            expiries: VecDeque::new(),
            #[cfg(test)]
            expired_checks: 0,
        }
    }

    pub(crate) fn window_len(&self) -> Duration {
        self.window.len
    }

    pub(crate) fn limit(&self) -> Option<usize> {
        self.limit
    }

    pub(crate) fn max_in_window(&self) -> u64 {
        self.max_in_window
    }

    /// Requests admitted in the window that ends at `now`.
    pub(crate) fn in_window(&mut self, now: Instant) -> u64 {
        self.window.evict(now);
        self.window.admitted.len() as u64
    }

    pub(crate) fn clear(&mut self) {
        self.window.admitted.clear();
        self.max_in_window = 0;
        self.blocked.clear();
        self.users.clear();
        self.expiries.clear();
    }

    /// Drops the per-user state that ran out by `now`.
    fn expire_users(&mut self, now: Instant) {
        while self.expiries.front().is_some_and(|(due, _)| *due <= now) {
            let Some((_, user)) = self.expiries.pop_front() else {
                break;
            };
            #[cfg(test)]
            {
                self.expired_checks += 1;
            }
            if let Some((w, blocked)) = self.users.get_mut(&user) {
                w.evict(now);
                if w.admitted.is_empty() && blocked.is_none_or(|b| b <= now) {
                    self.users.remove(&user);
                }
            }
        }
    }

    /// Admits the request or returns the `Retry-After` seconds. `user` names the user of a
    /// per-user-limited endpoint.
    pub(crate) fn check(
        &mut self,
        now: Instant,
        endpoint: &'static str,
        user: Option<&str>,
    ) -> Result<(), u64> {
        if let Some(&until) = self.blocked.get(endpoint) {
            if now < until {
                return Err(ceil_secs(until - now));
            }
            self.blocked.remove(endpoint);
        }
        self.window.evict(now);
        if let Some(limit) = self.limit
            && let Some(wait) = self.window.wait(now, limit)
        {
            let secs = ceil_secs(wait);
            match block_until(now, secs) {
                Some(until) => self.blocked.insert(endpoint, until),
                None => self.blocked.remove(endpoint),
            };
            return Err(secs);
        }
        if let (Some(user), true) = (user, self.per_user) {
            self.expire_users(now);
            let (w, blocked) = self
                .users
                .entry(user.to_owned())
                .or_insert_with(|| (Window::new(PER_USER_WINDOW), None));
            if let Some(until) = *blocked {
                if now < until {
                    return Err(ceil_secs(until - now));
                }
                *blocked = None;
            }
            w.evict(now);
            if let Some(wait) = w.wait(now, PER_USER_LIMIT) {
                let secs = ceil_secs(wait);
                *blocked = block_until(now, secs);
                if let Some(until) = *blocked {
                    self.expiries.push_back((until, user.to_owned()));
                }
                return Err(secs);
            }
            w.admitted.push_back(now);
            if let Some(leaves) = after(now, PER_USER_WINDOW) {
                self.expiries.push_back((leaves, user.to_owned()));
            }
        }
        self.window.admitted.push_back(now);
        self.max_in_window = self.max_in_window.max(self.window.admitted.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_admits_limit_then_blocks_endpoint() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Some(3), Duration::from_secs(10), true);
        for i in 0..3 {
            assert_eq!(l.check(t0 + Duration::from_secs(i), "A", None), Ok(()));
        }
        // The oldest admission (t0) leaves the window at t0+10s.
        assert_eq!(l.check(t0 + Duration::from_millis(3500), "A", None), Err(7));
        // Rejections do not count, and "A" stays blocked for the announced 7 s …
        assert_eq!(
            l.check(t0 + Duration::from_millis(10_100), "A", None),
            Err(1)
        );
        // … while another endpoint is admitted as soon as the window has room.
        assert_eq!(
            l.check(t0 + Duration::from_millis(10_100), "B", None),
            Ok(())
        );
        // "A" is unblocked at t0+10.5s but B filled the window again until t0+11s.
        assert_eq!(
            l.check(t0 + Duration::from_millis(10_500), "A", None),
            Err(1)
        );
        assert_eq!(
            l.check(t0 + Duration::from_millis(11_500), "A", None),
            Ok(())
        );
        assert_eq!(l.max_in_window(), 3);
    }

    #[test]
    fn occupancy_counts_the_window_ending_now() {
        let t0 = Instant::now();
        let mut l = Limiter::new(None, Duration::from_secs(10), false);
        for ms in [0, 100, 200, 6_000] {
            assert_eq!(l.check(t0 + Duration::from_millis(ms), "A", None), Ok(()));
        }
        assert_eq!(l.in_window(t0 + Duration::from_millis(9_999)), 4);
        assert_eq!(l.in_window(t0 + Duration::from_millis(10_150)), 2);
        assert_eq!(l.in_window(t0 + Duration::from_secs(17)), 0);
        assert_eq!(l.max_in_window(), 4, "the peak is kept");
    }

    #[test]
    fn per_user_limit_is_separate_per_user() {
        let t0 = Instant::now();
        let mut l = Limiter::new(None, Duration::from_secs(10), true);
        for _ in 0..PER_USER_LIMIT {
            assert_eq!(l.check(t0, "PATCH", Some("u1")), Ok(()));
        }
        assert_eq!(l.check(t0, "PATCH", Some("u1")), Err(10));
        assert_eq!(l.check(t0, "PATCH", Some("u2")), Ok(()));
        assert_eq!(
            l.check(t0 + Duration::from_secs(10), "PATCH", Some("u1")),
            Ok(())
        );
        assert_eq!(l.max_in_window(), 11);
    }

    #[test]
    fn per_user_state_is_dropped_as_it_runs_out_at_constant_cost_per_request() {
        let t0 = Instant::now();
        let mut l = Limiter::new(None, Duration::from_secs(10), true);
        let n = 30_000u32;
        let at = |wave: u64, i: u32| {
            t0 + Duration::from_secs(10 * wave) + Duration::from_micros(100 * u64::from(i))
        };
        // 30,000 users update once within 3 s: all of them are in their windows.
        for i in 0..n {
            assert_eq!(l.check(at(0, i), "PATCH", Some(&format!("a{i}"))), Ok(()));
        }
        assert_eq!(l.users.len(), 30_000);
        assert_eq!(l.expired_checks, 0, "nothing was due");
        // 10 s later another 30,000 do: each first-wave user goes as its window closes.
        for i in 0..n {
            assert_eq!(l.check(at(1, i), "PATCH", Some(&format!("b{i}"))), Ok(()));
            if i % 1_000 == 999 {
                assert_eq!(l.users.len(), 30_000, "each a-user left as its b-user came");
            }
        }
        assert_eq!(l.users.len(), 30_000, "the second wave");
        // Each admission was looked at once when due, never the whole table per request
        // (the old sweep looked at every user on each request past 10,000 of them).
        assert!(l.expired_checks <= u64::from(n), "{}", l.expired_checks);
        l.check(at(3, 0), "PATCH", Some("c")).unwrap();
        assert_eq!(l.users.len(), 1);
        assert_eq!(l.expiries.len(), 1);
    }

    #[test]
    fn a_user_blocked_past_its_window_stays_blocked_while_others_expire() {
        let t0 = Instant::now();
        let ms = |ms: u64| t0 + Duration::from_millis(ms);
        let mut l = Limiter::new(None, Duration::from_secs(10), true);
        for _ in 0..PER_USER_LIMIT {
            assert_eq!(l.check(ms(0), "PATCH", Some("u1")), Ok(()));
        }
        // 9.5 s until a slot frees, announced as 10 s: blocked until 10.5 s, after all ten
        // of its admissions left the window at 10 s.
        assert_eq!(l.check(ms(500), "PATCH", Some("u1")), Err(10));
        for i in 0..50 {
            let now = ms(10_000 + i * 10);
            assert_eq!(l.check(now, "PATCH", Some(&format!("o{i}"))), Ok(()));
        }
        assert_eq!(l.check(ms(10_400), "PATCH", Some("u1")), Err(1));
        assert_eq!(l.check(ms(10_500), "PATCH", Some("u1")), Ok(()));
        // Refused 1 ms before a slot frees: blocked for the announced second, though the
        // window has room again at 20.5 s, and the others' windows closing meanwhile.
        for _ in 0..PER_USER_LIMIT - 1 {
            assert_eq!(l.check(ms(10_500), "PATCH", Some("u1")), Ok(()));
        }
        assert_eq!(l.check(ms(20_499), "PATCH", Some("u1")), Err(1));
        assert_eq!(l.check(ms(20_600), "PATCH", Some("o0")), Ok(()));
        assert_eq!(l.check(ms(21_498), "PATCH", Some("u1")), Err(1));
        assert_eq!(l.check(ms(21_499), "PATCH", Some("u1")), Ok(()));
        l.clear();
        assert!(l.users.is_empty() && l.expiries.is_empty());
    }

    #[test]
    fn windows_too_long_for_the_clock_never_panic() {
        let t0 = Instant::now();
        for window in [
            Duration::from_secs(1 << 63),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            let mut l = Limiter::new(Some(1), window, true);
            assert_eq!(l.check(t0, "A", None), Ok(()));
            // The first request never leaves the window: every later one is refused with
            // the longest Retry-After there is, instead of overflowing `Instant + Duration`.
            for i in 0..3 {
                let now = t0 + Duration::from_secs(i);
                let secs = l.check(now, "A", None).unwrap_err();
                assert!(secs >= window.as_secs().min(u64::MAX - 1), "{secs}");
                assert!(l.check(now, "B", Some("u1")).is_err());
            }
            assert_eq!(l.max_in_window(), 1);
        }
        assert_eq!(ceil_secs(Duration::MAX), u64::MAX);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(block_until(t0, u64::MAX), None);
        assert_eq!(after(t0, Duration::MAX), None);
    }
}
