//! Fault settings: [`FaultKind`] and [`FaultSpec`] (`--faults 5xx=0.05,reset=0.02`), re-exported
//! by [`crate::config`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::ConfigError;

/// A kind of injected fault.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// A 500, 502 or 503 with a Clerk error body; the request is not applied.
    ServerError,
    /// The connection is closed before a response; the request is not applied.
    Reset,
    /// The request is applied, then the connection is closed without a response.
    LostResponse,
    /// A spurious 429 with `Retry-After`; the request is not applied.
    TooManyRequests,
    /// The request is held, then applied after [`FaultSpec::slow_apply_delay`] —
    /// after the client's attempt timeout — even if the client has gone.
    SlowApply,
    /// The request is applied, then its 2xx body is cut in half or replaced by a
    /// proxy's HTML page.
    BadBody,
    /// The request is not applied; a 200 answers with another object
    /// (`{"object":"total_count",…}`), as from a misrouted proxy.
    WrongObject,
}

impl FaultKind {
    /// All kinds, in spec order.
    pub const ALL: [FaultKind; 7] = [
        Self::ServerError,
        Self::Reset,
        Self::LostResponse,
        Self::TooManyRequests,
        Self::SlowApply,
        Self::BadBody,
        Self::WrongObject,
    ];

    /// The name used in `--faults`, the control API and the stats: `5xx`, `reset`,
    /// `lost_response`, `429`, `slow_apply`, `bad_body`, `wrong_object`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerError => "5xx",
            Self::Reset => "reset",
            Self::LostResponse => "lost_response",
            Self::TooManyRequests => "429",
            Self::SlowApply => "slow_apply",
            Self::BadBody => "bad_body",
            Self::WrongObject => "wrong_object",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::ServerError => 0,
            Self::Reset => 1,
            Self::LostResponse => 2,
            Self::TooManyRequests => 3,
            Self::SlowApply => 4,
            Self::BadBody => 5,
            Self::WrongObject => 6,
        }
    }
}

impl FromStr for FaultKind {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "5xx" => Ok(Self::ServerError),
            "reset" => Ok(Self::Reset),
            "lost_response" => Ok(Self::LostResponse),
            "429" => Ok(Self::TooManyRequests),
            "slow_apply" => Ok(Self::SlowApply),
            "bad_body" => Ok(Self::BadBody),
            "wrong_object" => Ok(Self::WrongObject),
            other => Err(ConfigError::new(format!(
                "unknown fault kind {other:?}: expected 5xx, reset, lost_response, 429, \
                 slow_apply, bad_body or wrong_object"
            ))),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Probabilities of each fault kind per request (`5xx=0.05,reset=0.02,lost_response=0.02,429=0.01`),
/// and how late a `slow_apply` lands (`slow_apply_ms=12000`, the default: past a 10 s attempt timeout).
/// The default injects nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultSpec {
    probabilities: [f64; 7],
    slow_apply_delay: Duration,
}

/// How long a `slow_apply` request is held before it is applied, by default.
pub const DEFAULT_SLOW_APPLY_DELAY: Duration = Duration::from_secs(12);

impl Default for FaultSpec {
    fn default() -> Self {
        Self {
            probabilities: [0.0; 7],
            slow_apply_delay: DEFAULT_SLOW_APPLY_DELAY,
        }
    }
}

impl FaultSpec {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// How long a `slow_apply` request is held before it is applied.
    #[must_use]
    pub fn with_slow_apply_delay(mut self, delay: Duration) -> Self {
        self.slow_apply_delay = delay;
        self
    }

    /// How long a `slow_apply` request is held before it is applied.
    pub fn slow_apply_delay(&self) -> Duration {
        self.slow_apply_delay
    }

    /// Sets the probability of one kind. Probabilities must lie in `0..=1` and sum to at most 1.
    pub fn with(mut self, kind: FaultKind, probability: f64) -> Result<Self, ConfigError> {
        if !(0.0..=1.0).contains(&probability) {
            return Err(ConfigError::new(format!(
                "fault probability for {kind} must be within 0..=1, got {probability}"
            )));
        }
        self.probabilities[kind.index()] = probability;
        let total: f64 = self.probabilities.iter().sum();
        if total > 1.0 + 1e-9 {
            return Err(ConfigError::new(format!(
                "fault probabilities sum to {total}, more than 1"
            )));
        }
        Ok(self)
    }

    /// The probability of one kind.
    pub fn probability(&self, kind: FaultKind) -> f64 {
        self.probabilities[kind.index()]
    }

    /// Whether any probability is non-zero.
    pub fn is_none(&self) -> bool {
        self.probabilities.iter().all(|p| *p == 0.0)
    }

    /// Draws a fault for one request from a uniform sample in `0..1`.
    pub(crate) fn pick(&self, sample: f64) -> Option<FaultKind> {
        let mut acc = 0.0;
        for kind in FaultKind::ALL {
            acc += self.probability(kind);
            if sample < acc {
                return Some(kind);
            }
        }
        None
    }
}

impl FromStr for FaultSpec {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut spec = Self::none();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "none" {
                continue;
            }
            let (k, p) = part.split_once('=').ok_or_else(|| {
                ConfigError::new(format!("invalid fault {part:?}: expected kind=probability"))
            })?;
            if k.trim() == "slow_apply_ms" {
                let ms: u64 = p.trim().parse().map_err(|_| {
                    ConfigError::new(format!(
                        "invalid slow_apply_ms {p:?}: expected milliseconds"
                    ))
                })?;
                spec.slow_apply_delay = Duration::from_millis(ms);
                continue;
            }
            let kind: FaultKind = k.parse()?;
            let p: f64 = p.trim().parse().map_err(|_| {
                ConfigError::new(format!("invalid probability {p:?} for fault {kind}"))
            })?;
            spec = spec.with(kind, p)?;
        }
        Ok(spec)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = FaultKind::ALL
            .iter()
            .filter(|k| self.probability(**k) > 0.0)
            .map(|k| format!("{k}={}", self.probability(*k)))
            .collect();
        if self.probability(FaultKind::SlowApply) > 0.0
            && self.slow_apply_delay != DEFAULT_SLOW_APPLY_DELAY
        {
            parts.push(format!(
                "slow_apply_ms={}",
                self.slow_apply_delay.as_millis()
            ));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fault_specs() {
        let f: FaultSpec = "5xx=0.05,reset=0.02,lost_response=0.02,429=0.01"
            .parse()
            .unwrap();
        assert_eq!(f.probability(FaultKind::ServerError), 0.05);
        assert_eq!(f.probability(FaultKind::TooManyRequests), 0.01);
        assert_eq!(f.pick(0.04), Some(FaultKind::ServerError));
        assert_eq!(f.pick(0.06), Some(FaultKind::Reset));
        assert_eq!(f.pick(0.5), None);
        for bad in [
            "5xx",
            "boom=0.1",
            "reset=1.5",
            "reset=-0.1",
            "reset=0.7,5xx=0.7",
            "reset=x",
        ] {
            assert!(bad.parse::<FaultSpec>().is_err(), "{bad}");
        }
        assert!("".parse::<FaultSpec>().unwrap().is_none());
    }
}
