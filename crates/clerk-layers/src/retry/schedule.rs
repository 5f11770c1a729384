//! Delay schedules between retries.

use std::fmt;
use std::time::Duration;

use clerk_core::Error;
use tower::retry::backoff::{
    Backoff as _, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff,
};
use tower::util::rng::HasherRng;

/// Computes the delays between the attempts of one call.
///
/// The [`RetryPolicy`](super::RetryPolicy) clones its schedule at the start of
/// every call, so a schedule's state (the current interval) is per call. The
/// policy caps every delay at its `max_delay` and replaces it with `Retry-After`
/// when the server sent one, so a schedule needs no cap of its own.
///
/// Two implementations: [`ExponentialJitter`] (the default, on the `backoff`
/// crate) and [`TowerBackoff`] (on tower's own `ExponentialBackoffMaker`).
pub trait DelaySchedule: Clone + Send + Sync + 'static {
    /// The delay before the next retry of this call.
    fn next_delay(&mut self) -> Duration;
}

/// Exponential delays with randomised jitter, computed by the `backoff` crate
/// (used only as a delay schedule; the retry loop and the sleeps are tower's and
/// tokio's).
///
/// Note: `backoff` is flagged unmaintained (RUSTSEC-2025-0012, and its
/// dependency `instant`, RUSTSEC-2024-0384). Both are "unmaintained" notices, not
/// vulnerabilities. [`TowerBackoff`] is a drop-in replacement with no extra
/// dependency.
///
/// Delay `k` (from 0) is `initial · multiplier^k`, spread uniformly by
/// `± randomization` of itself.
///
/// ```
/// use std::time::Duration;
/// use clerk_layers::retry::{DelaySchedule, ExponentialJitter};
///
/// let mut schedule = ExponentialJitter::new(Duration::from_millis(100), 2.0, 0.0)?;
/// assert_eq!(schedule.next_delay(), Duration::from_millis(100));
/// assert_eq!(schedule.next_delay(), Duration::from_millis(200));
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone)]
pub struct ExponentialJitter {
    backoff: backoff::ExponentialBackoff,
}

impl ExponentialJitter {
    /// A schedule starting at `initial`, growing by `multiplier` (≥ 1), with
    /// `randomization` in `[0, 1]` (0.5 spreads each delay over ±50 %).
    pub fn new(initial: Duration, multiplier: f64, randomization: f64) -> Result<Self, Error> {
        if !(multiplier.is_finite() && multiplier >= 1.0) {
            return Err(Error::invalid_request(
                "backoff multiplier must be a finite number ≥ 1",
            ));
        }
        if !(0.0..=1.0).contains(&randomization) {
            return Err(Error::invalid_request(
                "backoff randomization must be in [0, 1]",
            ));
        }
        if initial.is_zero() {
            return Err(Error::invalid_request(
                "the initial backoff must be positive",
            ));
        }
        let backoff = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(initial)
            .with_multiplier(multiplier)
            .with_randomization_factor(randomization)
            // The policy caps delays; this only keeps the float maths finite.
            .with_max_interval(Duration::from_secs(24 * 3600))
            // The crate's own give-up timer uses the wall clock; the policy counts attempts.
            .with_max_elapsed_time(None)
            .build();
        Ok(Self { backoff })
    }
}

impl Default for ExponentialJitter {
    /// 200 ms, doubling, ±50 % jitter.
    fn default() -> Self {
        Self {
            backoff: backoff::ExponentialBackoffBuilder::new()
                .with_initial_interval(Duration::from_millis(200))
                .with_multiplier(2.0)
                .with_randomization_factor(0.5)
                .with_max_interval(Duration::from_secs(24 * 3600))
                .with_max_elapsed_time(None)
                .build(),
        }
    }
}

impl DelaySchedule for ExponentialJitter {
    fn next_delay(&mut self) -> Duration {
        use backoff::backoff::Backoff as _;
        // `None` only comes from the elapsed-time limit, which is disabled.
        self.backoff
            .next_backoff()
            .unwrap_or(self.backoff.max_interval)
    }
}

impl fmt::Debug for ExponentialJitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExponentialJitter")
            .field("initial", &self.backoff.initial_interval)
            .field("multiplier", &self.backoff.multiplier)
            .field("randomization", &self.backoff.randomization_factor)
            .finish()
    }
}

/// Exponential delays from tower's `ExponentialBackoffMaker`: delay `k` is
/// `min(min · 2^k, max)` plus up to `jitter` times that, never above `max`.
/// Needs a tokio runtime when a delay is computed (tower builds a tokio `Sleep`,
/// whose deadline gives the delay), which is always the case inside the retry layer.
///
/// ```
/// use std::time::Duration;
/// use clerk_layers::retry::{RetryPolicy, TowerBackoff};
///
/// let schedule = TowerBackoff::new(Duration::from_millis(100), Duration::from_secs(5), 0.5)?;
/// let policy = RetryPolicy::new().with_schedule(schedule);
/// # let _ = policy;
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TowerBackoff {
    backoff: ExponentialBackoff<HasherRng>,
}

impl TowerBackoff {
    /// See the type docs. Fails when `min > max`, `max` is zero or `jitter` is
    /// not in `[0, 100]`.
    pub fn new(min: Duration, max: Duration, jitter: f64) -> Result<Self, Error> {
        let mut maker = ExponentialBackoffMaker::new(min, max, jitter, HasherRng::default())
            .map_err(|e| Error::invalid_request(format!("invalid backoff: {e}")))?;
        Ok(Self {
            backoff: maker.make_backoff(),
        })
    }
}

impl DelaySchedule for TowerBackoff {
    fn next_delay(&mut self) -> Duration {
        let sleep = self.backoff.next_backoff();
        sleep
            .deadline()
            .saturating_duration_since(tokio::time::Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_band() {
        let mut schedule = ExponentialJitter::new(Duration::from_millis(100), 2.0, 0.5).unwrap();
        for base in [100u64, 200, 400, 800] {
            let d = schedule.next_delay().as_secs_f64() * 1000.0;
            assert!(
                (base as f64 * 0.5..=base as f64 * 1.5 + 1.0).contains(&d),
                "{d} vs {base}"
            );
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(ExponentialJitter::new(Duration::from_millis(1), 0.5, 0.1).is_err());
        assert!(ExponentialJitter::new(Duration::from_millis(1), f64::NAN, 0.1).is_err());
        assert!(ExponentialJitter::new(Duration::from_millis(1), 2.0, 1.5).is_err());
        assert!(ExponentialJitter::new(Duration::ZERO, 2.0, 0.1).is_err());
        assert!(TowerBackoff::new(Duration::from_secs(2), Duration::from_secs(1), 0.0).is_err());
        assert!(TowerBackoff::new(Duration::ZERO, Duration::ZERO, 0.0).is_err());
        assert!(TowerBackoff::new(Duration::ZERO, Duration::from_secs(1), f64::NAN).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn tower_schedule_doubles() {
        let mut schedule =
            TowerBackoff::new(Duration::from_millis(50), Duration::from_millis(300), 0.0).unwrap();
        let delays: Vec<_> = (0..5).map(|_| schedule.next_delay().as_millis()).collect();
        assert_eq!(delays, [50, 100, 200, 300, 300]);
    }
}
