//! Numbers for the end reports: latency percentiles, human durations and counts,
//! and the migration-time projection.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clerk_tower::{ClerkBuilder, ClerkService};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

/// Latencies of completed calls, for percentiles. Shared by the workers.
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    micros: Mutex<Vec<u32>>,
}

impl Latencies {
    pub(crate) fn record(&self, took: Duration) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        if let Ok(mut all) = self.micros.lock() {
            all.push(micros);
        }
    }

    /// `(p50, p99)` in milliseconds; zeros when nothing was recorded.
    pub(crate) fn p50_p99_ms(&self) -> (f64, f64) {
        let mut all = self.micros.lock().map(|v| v.clone()).unwrap_or_default();
        if all.is_empty() {
            return (0.0, 0.0);
        }
        all.sort_unstable();
        let at = |q: f64| {
            // Nearest-rank percentile.
            let rank = ((q * all.len() as f64).ceil() as usize).clamp(1, all.len());
            f64::from(all[rank - 1]) / 1000.0
        };
        (at(0.50), at(0.99))
    }
}

/// Adds a layer to every attempt (inside the rate limiter, so its wait is not
/// counted) that records the attempt's latency.
pub(crate) fn timed(builder: ClerkBuilder, latencies: &Arc<Latencies>) -> ClerkBuilder {
    let latencies = Arc::clone(latencies);
    builder.attempt_layer(tower::layer::layer_fn(move |inner: ClerkService| {
        let latencies = Arc::clone(&latencies);
        BoxCloneSyncService::new(tower::service_fn(move |request| {
            let (inner, latencies) = (inner.clone(), Arc::clone(&latencies));
            async move {
                let sent = Instant::now();
                let result = inner.oneshot(request).await;
                latencies.record(sent.elapsed());
                result
            }
        }))
    }))
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration as people read it: `850 ms`, `25.3 s`, `4 min 10 s`, `2 h 46 min`
/// (the import engine's progress messages print the same).
pub(crate) use clerk_migrate::human::duration as human;

/// A run's achieved rate against its quota.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum QuotaUse {
    /// The share of the quota the run used, in `0..=1`.
    Share(f64),
    /// Faster than the quota's average rate: the limiter's small burst lets a run
    /// shorter than one quota window do that, while no window ever holds more than
    /// the quota. Such a run used all the quota it could: utilization 1.
    ShortBurst,
}

impl QuotaUse {
    /// `achieved` requests/s against `quota_rps`.
    pub(crate) fn of(achieved: f64, quota_rps: f64) -> Self {
        if achieved > quota_rps {
            Self::ShortBurst
        } else {
            Self::Share(achieved / quota_rps)
        }
    }

    /// The share of the quota used, at most 1.
    pub(crate) fn utilization(self) -> f64 {
        match self {
            Self::Share(u) => u,
            Self::ShortBurst => 1.0,
        }
    }

    /// `--json`'s `utilization` and `short_burst`.
    pub(crate) fn json(quota: Option<Self>) -> (Option<f64>, bool) {
        (
            quota.map(Self::utilization),
            quota == Some(Self::ShortBurst),
        )
    }
}

/// The summary's rate line: `rate 95.1 req/s of 100 req/s quota (95.1 %)`, or a short
/// burst, or no request sent.
pub(crate) fn rate_line(requests: u64, achieved: f64, quota_rps: Option<f64>) -> String {
    match quota_rps {
        _ if requests == 0 => "rate: no request sent".to_owned(),
        Some(q) => match QuotaUse::of(achieved, q) {
            QuotaUse::ShortBurst => {
                format!(
                    "rate {achieved:.1} req/s: a short burst, within the {q:.0} req/s quota's window"
                )
            }
            QuotaUse::Share(u) => {
                format!(
                    "rate {achieved:.1} req/s of {q:.0} req/s quota ({:.1} %)",
                    100.0 * u
                )
            }
        },
        None => format!("rate {achieved:.1} req/s (no rate limit)"),
    }
}

/// `1,000,000 users at 100 req/s: 2 h 46 min`: `users` at `requests_per_user`
/// requests each, at `rps`. Only `bench` projects.
#[cfg(feature = "emulator")]
pub(crate) fn projection(users: u64, rps: f64, requests_per_user: f64) -> String {
    let rate = if rps.fract() == 0.0 {
        format!("{rps:.0}")
    } else {
        format!("{rps:.1}")
    };
    if rps <= 0.0 {
        return format!("{} users: no rate limit, no projection", thousands(users));
    }
    let secs = users as f64 * requests_per_user.max(1.0) / rps;
    format!(
        "{} users at {rate} req/s: {}",
        thousands(users),
        human(Duration::from_secs_f64(secs))
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_run_faster_than_its_quota_is_a_short_burst_at_full_utilization() {
        use super::{QuotaUse, rate_line};
        assert_eq!(QuotaUse::of(16.8, 10.0), QuotaUse::ShortBurst);
        assert_eq!(QuotaUse::of(16.8, 10.0).utilization(), 1.0);
        assert_eq!(QuotaUse::of(9.5, 10.0), QuotaUse::Share(0.95));
        assert_eq!(
            QuotaUse::json(Some(QuotaUse::of(16.8, 10.0))),
            (Some(1.0), true)
        );
        assert_eq!(QuotaUse::json(None), (None, false));
        assert_eq!(
            rate_line(2, 16.8, Some(10.0)),
            "rate 16.8 req/s: a short burst, within the 10 req/s quota's window"
        );
        assert_eq!(
            rate_line(95, 9.5, Some(10.0)),
            "rate 9.5 req/s of 10 req/s quota (95.0 %)"
        );
        assert_eq!(rate_line(0, 0.0, Some(10.0)), "rate: no request sent");
        assert_eq!(rate_line(3, 3.0, None), "rate 3.0 req/s (no rate limit)");
    }

    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let l = Latencies::default();
        assert_eq!(l.p50_p99_ms(), (0.0, 0.0));
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.p50_p99_ms(), (50.0, 99.0));
    }

    #[test]
    fn humans_read_these() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_secs_f64(25.34)), "25.3 s");
        assert_eq!(human(Duration::from_secs(250)), "4 min 10 s");
        assert_eq!(human(Duration::from_secs(10_000)), "2 h 46 min");
        assert_eq!(human(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3 d 4 h");
    }

    #[cfg(feature = "emulator")]
    #[test]
    fn projections_read_as_wall_time() {
        assert_eq!(
            projection(1_000_000, 100.0, 1.0),
            "1,000,000 users at 100 req/s: 2 h 46 min"
        );
        assert_eq!(
            projection(1_000_000, 10.0, 1.0),
            "1,000,000 users at 10 req/s: 1 d 3 h"
        );
    }
}
