//! Clerk's request quotas and the GCRA parameters derived from them.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use clerk_core::{Error, InstanceType, SecretKey};

/// Largest default safety margin added to the window: see [`Quota`].
pub const DEFAULT_WINDOW_MARGIN: Duration = Duration::from_millis(25);

/// The default margin is this share of the window (`W / 400`, 0.25 %), capped at
/// [`DEFAULT_WINDOW_MARGIN`]: 25 ms on Clerk's 10 s windows, 2.5 ms on a 1 s one,
/// 2.5 µs on a 1 ms one. A fixed 25 ms would dominate short windows (a quota of
/// 1 per 1 ms would run at 1 per 26 ms).
const MARGIN_DIVISOR: u128 = 400;

/// The default margin for `window`: `min(W / 400, 25 ms)`.
const fn default_margin(window: Duration) -> Duration {
    let scaled = window.as_nanos() / MARGIN_DIVISOR;
    let cap = DEFAULT_WINDOW_MARGIN.as_nanos();
    let nanos = if scaled < cap { scaled } else { cap };
    // At most 25 ms: fits in u64.
    Duration::from_nanos(nanos as u64)
}

/// Largest burst the derivation picks: enough to absorb timer lateness, small
/// enough that the window bound costs almost nothing.
const MAX_BURST: u32 = 10;

/// Share of `N / W` the derived burst must keep (before timer lateness).
const TARGET_UTILISATION: f64 = 0.995;
/// How late a tokio timer may fire (millisecond resolution plus scheduling): a
/// burst of 1 loses that much of every period, so short periods bank it instead.
const TIMER_SLACK: Duration = Duration::from_millis(2);
/// Periods at least this long lose little to timer lateness (1 % at most), so a
/// burst of 1 keeps the tighter window bound there.
const LONG_PERIOD: Duration = Duration::from_millis(100);

/// The longest window a quota may have (the emulator refuses longer ones too). Clerk's are
/// 10 s; governor counts in `u64` nanoseconds, and a window near 584 years overflowed its
/// arithmetic and let every request through at once.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// A request quota: at most `requests` in any window of length `window`.
///
/// # How the limiter honours it
///
/// The limiter is a GCRA (token bucket) with a burst `B` and an emission period
/// `T`: a greedy caller gets `B` grants at once, then one every `T`. Any closed
/// window of length `L` then holds at most `B + ⌊L/T⌋` grants (a half-open one
/// `B + ⌈L/T⌉ − 1`). A burst of `N` with period `W/N` would allow `2N − 1`
/// grants in the first window, so instead:
///
/// * the server counts *arrivals*, and two requests granted `T` apart can arrive
///   closer together (scheduling, loopback or network jitter), so the window is
///   widened by a small margin `m`, 0.25 % of the window and at most
///   [`DEFAULT_WINDOW_MARGIN`] (25 ms on Clerk's 10 s windows, so it scales down
///   with short windows instead of dominating them): `W' = W + m`;
/// * `T = W' / (N − B + 1)`. Then `⌊W/T⌋ = ⌊(N − B + 1)·W/W'⌋ ≤ N − B`, so any
///   window of length `W` (open or closed) holds at most `N` grants, and any
///   server-side window does too as long as arrival jitter stays below `m`;
/// * the sustained rate is `(N − B + 1) / W'`. `B` is the largest burst (at most
///   10) that keeps it at ≥ 99.5 % of `N / W`. A burst of 2 or more lets a
///   waiter whose timer fired late catch up without losing its slot (tokio
///   timers have millisecond resolution), so the measured rate stays at the
///   nominal one.
///
/// | quota | B | T | nominal rate |
/// |---|---|---|---|
/// | production, 1000 / 10 s | 3 | 10.045 ms | 99.55 % of N/W |
/// | development, 100 / 10 s | 1 | 100.25 ms | 99.75 % of N/W (≈ 99.2 % with millisecond timers) |
/// | per user, 10 / 10 s | 1 | 1.0025 s | 99.75 % of N/W |
/// | 300 / 1 s | 2 | 3.353 ms | 99.4 % of N/W (margin 2.5 ms) |
/// | 1 / 1 ms | 1 | 1.0025 ms | 99.75 % of N/W (margin 2.5 µs) |
///
/// Where the period is shorter than 100 ms, the burst is at least what banks 2 ms of
/// timer lateness: with a burst of 1 every late wake-up would lose its slot, and at
/// a few milliseconds per grant that costs a quarter of the rate.
///
/// A head-room fraction ([`Quota::with_headroom`]) lowers `N` first, for other
/// clients sharing the same secret key.
///
/// ```
/// use std::time::Duration;
/// use clerk_layers::rate_limit::Quota;
///
/// let quota = Quota::production();
/// assert_eq!((quota.requests(), quota.window()), (1000, Duration::from_secs(10)));
/// // never more than N per window: B + ⌊W/T⌋ ≤ N
/// let per_window = quota.burst() as u128 + quota.window().as_nanos() / quota.period().as_nanos();
/// assert!(per_window <= 1000);
///
/// let shared = Quota::new(100, Duration::from_secs(10))?.with_headroom(0.2)?;
/// assert_eq!(shared.effective_requests(), 80);
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Quota {
    requests: u32,
    window: Duration,
    headroom: f64,
    margin: Duration,
}

impl Quota {
    /// Clerk's limit for production instances (`sk_live_…`): 1000 requests per 10 s.
    pub const fn production() -> Self {
        Self::preset(1000, Duration::from_secs(10))
    }

    /// Clerk's limit for development instances (`sk_test_…`): 100 requests per 10 s.
    pub const fn development() -> Self {
        Self::preset(100, Duration::from_secs(10))
    }

    /// Clerk's per-user limit on `PATCH /users/{user_id}` and
    /// `PATCH /users/{user_id}/metadata`: 10 requests per 10 s per user.
    pub const fn per_user() -> Self {
        Self::preset(10, Duration::from_secs(10))
    }

    /// The preset for the instance the key belongs to; a key with an unknown
    /// prefix gets the (lower) development quota.
    pub fn for_key(key: &SecretKey) -> Self {
        match key.instance_type() {
            Some(InstanceType::Production) => Self::production(),
            _ => Self::development(),
        }
    }

    const fn preset(requests: u32, window: Duration) -> Self {
        Self {
            requests,
            window,
            headroom: 0.0,
            margin: default_margin(window),
        }
    }

    /// At most `requests` in any window of length `window`.
    ///
    /// Fails when `requests` is zero, `window` is shorter than a millisecond or
    /// longer than [`MAX_WINDOW`] (24 h), or the resulting period would be shorter
    /// than a microsecond.
    pub fn new(requests: u32, window: Duration) -> Result<Self, Error> {
        if requests == 0 {
            return Err(Error::invalid_request("a quota needs at least one request"));
        }
        if window < Duration::from_millis(1) {
            return Err(Error::invalid_request(
                "a quota window must be at least one millisecond",
            ));
        }
        if window > MAX_WINDOW {
            return Err(Error::invalid_request(
                "a quota window must be at most 24 hours",
            ));
        }
        if window.as_nanos() / u128::from(requests) < 1_000 {
            return Err(Error::invalid_request(
                "a quota of more than one request per microsecond is finer than the limiter can pace",
            ));
        }
        Ok(Self::preset(requests, window))
    }

    /// Keeps `fraction` of the quota free for other clients of the same secret key
    /// (`0.1` leaves 10 %). Fails unless `0 ≤ fraction < 1`.
    pub fn with_headroom(mut self, fraction: f64) -> Result<Self, Error> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::invalid_request(
                "quota head-room must be a fraction in [0, 1)",
            ));
        }
        self.headroom = fraction;
        Ok(self)
    }

    /// Sets the safety margin added to the window (default 0.25 % of it, at most
    /// 25 ms); see the type
    /// docs. Zero is allowed (the bound then still holds, with no allowance for
    /// arrival jitter). Fails if the margin is longer than the window.
    pub fn with_window_margin(mut self, margin: Duration) -> Result<Self, Error> {
        if margin > self.window {
            return Err(Error::invalid_request(
                "the window margin must not exceed the window",
            ));
        }
        self.margin = margin;
        Ok(self)
    }

    /// `N`: the server's limit per window.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// `W`: the server's window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The head-room fraction.
    pub fn headroom(&self) -> f64 {
        self.headroom
    }

    /// The safety margin added to the window.
    pub fn window_margin(&self) -> Duration {
        self.margin
    }

    /// The requests per window this client allows itself after head-room (at least 1).
    pub fn effective_requests(&self) -> u32 {
        // The float product is at most `requests`, so the cast cannot overflow.
        let n = (f64::from(self.requests) * (1.0 - self.headroom)).floor() as u32;
        n.max(1)
    }

    /// `B`: how many requests may go at once after an idle period.
    pub fn burst(&self) -> u32 {
        let n = self.effective_requests();
        let window = self.window.as_secs_f64();
        let widened = (self.window + self.margin).as_secs_f64();
        let mut burst = 1;
        for b in 2..=MAX_BURST.min(n) {
            let rate = f64::from(n - b + 1) / widened;
            if rate >= TARGET_UTILISATION * f64::from(n) / window {
                burst = b;
            } else {
                break;
            }
        }
        // A short period (a quota of hundreds per second) with a burst of 1 would
        // lose a late timer's lateness on every grant: bank at least TIMER_SLACK.
        let period_of = |b: u32| (widened / f64::from(n - b + 1)).max(f64::MIN_POSITIVE);
        if burst == 1 && period_of(1) < LONG_PERIOD.as_secs_f64() {
            let banked = |b: u32| f64::from(b - 1) * period_of(b) >= TIMER_SLACK.as_secs_f64();
            burst = (2..=MAX_BURST.min(n))
                .find(|&b| banked(b))
                .unwrap_or(MAX_BURST.min(n))
                .max(1);
        }
        burst
    }

    /// `T`: the steady-state spacing between grants.
    pub fn period(&self) -> Duration {
        let n = self.effective_requests();
        let slots = u128::from(n - self.burst() + 1);
        // A margin of at least 1 ns and a rounded-up period keep `slots · T > W`
        // strictly, which is what bounds a *closed* window of length `W`.
        let widened = (self.window + self.margin.max(Duration::from_nanos(1))).as_nanos();
        let nanos = widened.div_ceil(slots);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The sustained rate in requests per second (`(N − B + 1) / (W + m)`).
    pub fn sustained_rate(&self) -> f64 {
        1.0 / self.period().as_secs_f64()
    }

    pub(crate) fn to_governor(self) -> governor::Quota {
        let burst = NonZeroU32::new(self.burst()).unwrap_or(NonZeroU32::MIN);
        match governor::Quota::with_period(self.period()) {
            Some(quota) => quota.allow_burst(burst),
            // Unreachable: the period is never zero.
            None => governor::Quota::per_second(NonZeroU32::MAX),
        }
    }
}

impl FromStr for Quota {
    type Err = Error;

    /// `N/W`: at most `N` requests in any window `W`, written as a whole number of `ms`, `s`
    /// or `m` (`min`): `1000/10s`, `300/1s`, `50/500ms`, `6000/1m`. A window without a unit
    /// is in seconds, and `100/s` is `100/1s`. The same checks as [`Quota::new`] apply.
    ///
    /// ```
    /// use std::time::Duration;
    /// use clerk_layers::rate_limit::Quota;
    ///
    /// let quota: Quota = "1000/10s".parse()?;
    /// assert_eq!(quota, Quota::production());
    /// assert_eq!("50/500ms".parse::<Quota>()?.window(), Duration::from_millis(500));
    /// assert!("fast".parse::<Quota>().is_err());
    /// # Ok::<(), clerk_core::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            Error::invalid_request(format!(
                "invalid quota {:?}: expected `N/W` such as `1000/10s`, `300/1s` or `50/500ms`",
                s.chars().take(64).collect::<String>()
            ))
        };
        let (n, w) = s.trim().split_once('/').ok_or_else(bad)?;
        let n = n.trim();
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let requests: u32 = n.parse().map_err(|_| bad())?;
        let w = w.trim();
        let split = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
        let (count, unit) = w.split_at(split);
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().map_err(|_| bad())?
        };
        let window = match unit {
            "ms" => Duration::from_millis(count),
            "" | "s" => Duration::from_secs(count),
            "m" | "min" => Duration::from_secs(count.checked_mul(60).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        if window.is_zero() {
            return Err(bad());
        }
        Quota::new(requests, window)
    }
}

impl Default for Quota {
    /// The development preset, the safe choice when the instance type is unknown.
    fn default() -> Self {
        Self::development()
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("requests", &self.requests)
            .field("window", &self.window)
            .field("headroom", &self.headroom)
            .field("margin", &self.margin)
            .field("burst", &self.burst())
            .field("period", &self.period())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worst_closed_window(q: &Quota, window: Duration) -> u128 {
        u128::from(q.burst()) + window.as_nanos() / q.period().as_nanos()
    }

    #[test]
    fn parses_n_per_window() {
        let parse = |s: &str| s.parse::<Quota>().map(|q| (q.requests(), q.window()));
        assert_eq!(parse("1000/10s").unwrap(), (1000, Duration::from_secs(10)));
        assert_eq!(parse(" 100/10 ").unwrap(), (100, Duration::from_secs(10)));
        assert_eq!(parse("300/s").unwrap(), (300, Duration::from_secs(1)));
        assert_eq!(parse("50/500ms").unwrap(), (50, Duration::from_millis(500)));
        assert_eq!(parse("6000/1m").unwrap(), (6000, Duration::from_secs(60)));
        assert_eq!(parse("10/2min").unwrap(), (10, Duration::from_secs(120)));
        assert_eq!("1000/10s".parse::<Quota>().unwrap(), Quota::production());
        for bad in [
            "",
            "off",
            "fast",
            "1000",
            "/10s",
            "0/10s",
            "-5/10s",
            "+5/10s",
            "10/0s",
            "10/10h",
            "10/1.5s",
            "1000000000/1ms",
            "99999999999/10s",
            "10/99999999999999999999m",
        ] {
            let err = bad.parse::<Quota>().unwrap_err();
            assert!(err.is_invalid_request(), "{bad:?}: {err}");
        }
        let err = "fast".parse::<Quota>().unwrap_err().to_string();
        assert!(err.contains("1000/10s"), "{err}");
    }

    #[test]
    fn presets_respect_the_window_bound_and_the_rate_target() {
        for (quota, burst) in [
            (Quota::production(), 3),
            (Quota::development(), 1),
            (Quota::per_user(), 1),
        ] {
            assert_eq!(quota.burst(), burst, "{quota:?}");
            assert!(
                worst_closed_window(&quota, quota.window()) <= u128::from(quota.requests()),
                "{quota:?}"
            );
            let target = f64::from(quota.requests()) / quota.window().as_secs_f64();
            assert!(quota.sustained_rate() >= 0.995 * target, "{quota:?}");
        }
    }

    #[test]
    fn short_periods_bank_timer_lateness() {
        for (n, window_ms) in [
            (300, 1_000),
            (500, 1_000),
            (1_000, 1_000),
            (100, 1_000),
            (50, 100),
        ] {
            let q = Quota::new(n, Duration::from_millis(window_ms)).unwrap();
            assert!(q.burst() >= 2, "{q:?}");
            assert!(q.period() * (q.burst() - 1) >= TIMER_SLACK, "{q:?}");
            assert!(
                worst_closed_window(&q, q.window()) <= u128::from(n),
                "{q:?}"
            );
        }
        // Long periods keep a burst of 1 (the tighter bound), as before.
        assert_eq!(Quota::development().burst(), 1);
    }

    #[test]
    fn the_bound_holds_for_many_quotas() {
        for n in [
            1, 2, 3, 7, 10, 50, 99, 100, 101, 500, 999, 1000, 5000, 100_000,
        ] {
            for window_ms in [10, 1_000, 10_000, 60_000] {
                let Ok(quota) = Quota::new(n, Duration::from_millis(window_ms)) else {
                    continue;
                };
                for headroom in [0.0, 0.1, 0.5] {
                    let q = quota.with_headroom(headroom).unwrap();
                    assert!(
                        worst_closed_window(&q, q.window()) <= u128::from(q.effective_requests()),
                        "{q:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(Quota::new(0, Duration::from_secs(1)).is_err());
        assert!(Quota::new(10, Duration::ZERO).is_err());
        assert!(Quota::new(u32::MAX, Duration::from_millis(1)).is_err());
        assert!(Quota::new(1, MAX_WINDOW).is_ok());
        for window in [MAX_WINDOW + Duration::from_secs(1), Duration::MAX] {
            assert!(Quota::new(1, window).is_err(), "{window:?}");
        }
        for long in ["1/100000000000s", "1/18446744073709551615s", "1/1441m"] {
            assert!(long.parse::<Quota>().is_err(), "{long}");
        }
        for bad in [-0.1, 1.0, f64::NAN, f64::INFINITY] {
            assert!(Quota::production().with_headroom(bad).is_err(), "{bad}");
        }
        assert!(
            Quota::production()
                .with_window_margin(Duration::from_secs(11))
                .is_err()
        );
        assert_eq!(
            Quota::new(1, Duration::from_secs(1))
                .unwrap()
                .with_headroom(0.9)
                .unwrap()
                .effective_requests(),
            1
        );
    }

    #[test]
    fn the_margin_scales_with_the_window() {
        assert_eq!(
            Quota::production().window_margin(),
            Duration::from_millis(25)
        );
        assert_eq!(Quota::per_user().window_margin(), Duration::from_millis(25));
        let minute = Quota::new(100, Duration::from_secs(60)).unwrap();
        assert_eq!(minute.window_margin(), Duration::from_millis(25), "capped");
        let second = Quota::new(300, Duration::from_secs(1)).unwrap();
        assert_eq!(second.window_margin(), Duration::from_micros(2500));
        assert!(second.sustained_rate() >= 0.99 * 300.0, "{second:?}");
        let tiny = Quota::new(1, Duration::from_millis(1)).unwrap();
        assert_eq!(tiny.window_margin(), Duration::from_nanos(2500));
        assert!(tiny.sustained_rate() >= 0.99 * 1000.0, "{tiny:?}");
        for q in [second, tiny] {
            assert!(
                worst_closed_window(&q, q.window()) <= u128::from(q.requests()),
                "{q:?}"
            );
        }
    }

    #[test]
    fn key_prefix_picks_the_preset() {
        assert_eq!(
            Quota::for_key(&SecretKey::new("sk_live_x")),
            Quota::production()
        );
        assert_eq!(
            Quota::for_key(&SecretKey::new("sk_test_x")),
            Quota::development()
        );
        assert_eq!(Quota::for_key(&SecretKey::new("odd")), Quota::development());
    }
}
