//! Configuration: [`Config`], [`RateLimit`], [`FaultSpec`] and [`Latency`]; the CLI flags that
//! build one are [`EmulatorArgs`](crate::EmulatorArgs).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The key of the default development instance.
pub const DEFAULT_SECRET_KEY: &str = "sk_test_emulator";

/// An invalid flag or configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The instance rate limit.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimit {
    /// Clerk's limits: 1000 requests / 10 s for production keys (`sk_live_…`), 100 / 10 s for
    /// development keys (`sk_test_…`).
    #[default]
    PerInstanceType,
    /// No limit at all (neither per instance nor per user).
    Off,
    /// The same fixed quota for every instance.
    Fixed {
        /// Requests admitted per window.
        requests: u32,
        /// Window length.
        window: Duration,
    },
}

impl RateLimit {
    /// `(limit, window)` for an instance; `limit` is `None` when off.
    pub(crate) fn for_instance(self, production: bool) -> (Option<usize>, Duration) {
        let ten = Duration::from_secs(10);
        match self {
            Self::PerInstanceType if production => (Some(1000), ten),
            Self::PerInstanceType => (Some(100), ten),
            Self::Off => (None, ten),
            Self::Fixed { requests, window } => (Some(requests as usize), window),
        }
    }
}

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = if num.is_empty() { 1 } else { num.parse().ok()? };
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n.checked_mul(60)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

impl FromStr for RateLimit {
    type Err = ConfigError;

    /// `off`, `default` (Clerk's per-instance-type limits), or `N/W` with `W` like `10s`,
    /// `500ms`, `1m` (e.g. `500/5s`, `100/10s`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ConfigError::new(format!(
                "invalid rate limit {s:?}: expected `off`, `default` or `N/Ws` such as `100/10s`"
            ))
        };
        match s.trim() {
            "off" | "none" => return Ok(Self::Off),
            "default" | "clerk" => return Ok(Self::PerInstanceType),
            _ => {}
        }
        let (n, w) = s.split_once('/').ok_or_else(bad)?;
        let requests: u32 = n.trim().parse().map_err(|_| bad())?;
        if requests == 0 {
            return Err(bad());
        }
        let window = parse_duration(w).ok_or_else(bad)?;
        Ok(Self::Fixed { requests, window })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PerInstanceType => f.write_str("default"),
            Self::Off => f.write_str("off"),
            Self::Fixed { requests, window } if window.subsec_millis() == 0 => {
                write!(f, "{requests}/{}s", window.as_secs())
            }
            Self::Fixed { requests, window } => write!(f, "{requests}/{}ms", window.as_millis()),
        }
    }
}

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

/// Added latency, uniform in `min..=max` (`--latency 5..20`, in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Lower bound.
    pub min: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl FromStr for Latency {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ConfigError::new(format!(
                "invalid latency {s:?}: expected MIN..MAX in ms, e.g. 5..20"
            ))
        };
        let (a, b) = s.split_once("..").unwrap_or((s, s));
        let min: u64 = a.trim().parse().map_err(|_| bad())?;
        let max: u64 = b
            .trim()
            .trim_start_matches('=')
            .parse()
            .map_err(|_| bad())?;
        if min > max {
            return Err(bad());
        }
        Ok(Self {
            min: Duration::from_millis(min),
            max: Duration::from_millis(max),
        })
    }
}

/// Emulator configuration. `Config::default()`: one development instance `sk_test_emulator`,
/// listening on `127.0.0.1:0`, Clerk's rate limits, no faults, no latency.
#[derive(Clone)]
pub struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) secret_keys: Vec<String>,
    pub(crate) rate_limit: RateLimit,
    pub(crate) faults: FaultSpec,
    pub(crate) latency: Option<Latency>,
    pub(crate) seed_file: Option<PathBuf>,
    pub(crate) state_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret_keys: Vec::new(),
            rate_limit: RateLimit::PerInstanceType,
            faults: FaultSpec::none(),
            latency: None,
            seed_file: None,
            state_file: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field(
                "instances",
                &self
                    .keys()
                    .iter()
                    .map(|k| redact_key(k))
                    .collect::<Vec<_>>(),
            )
            .field("rate_limit", &self.rate_limit)
            .field("faults", &self.faults)
            .field("latency", &self.latency)
            .field("seed_file", &self.seed_file)
            .field("state_file", &self.state_file)
            .finish()
    }
}

impl Config {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Adds an instance with this secret key (`sk_live_…` is production, anything else
    /// development). Repeatable; the first call replaces the default instance.
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_keys.push(key.into());
        self
    }

    /// The instance rate limit.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Fault probabilities.
    pub fn faults(mut self, faults: FaultSpec) -> Self {
        self.faults = faults;
        self
    }

    /// Added latency, uniform in `min..=max` (swapped if given in the wrong order).
    pub fn latency(mut self, min: Duration, max: Duration) -> Self {
        self.latency = Some(Latency {
            min: min.min(max),
            max: max.max(min),
        });
        self
    }

    /// A JSON seed file loaded at start (see the crate docs for its format).
    pub fn seed_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.seed_file = Some(path.into());
        self
    }

    /// A JSON state file: loaded at start if present, written atomically on shutdown.
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    pub(crate) fn keys(&self) -> Vec<String> {
        if self.secret_keys.is_empty() {
            vec![DEFAULT_SECRET_KEY.to_owned()]
        } else {
            let mut keys = self.secret_keys.clone();
            keys.dedup();
            keys
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for key in self.keys() {
            validate_key(&key)?;
        }
        Ok(())
    }
}

pub(crate) fn validate_key(key: &str) -> Result<(), ConfigError> {
    if key.len() < 8 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            "invalid secret key: expected at least 8 printable ASCII characters without spaces, like sk_test_…",
        ));
    }
    Ok(())
}

/// `sk_live_…`/`live_…` keys are production instances; everything else is development.
pub(crate) fn is_production_key(key: &str) -> bool {
    key.starts_with("sk_live_") || key.starts_with("live_")
}

/// A key shown in stats and logs: `sk_test_…ator`.
pub(crate) fn redact_key(key: &str) -> String {
    let prefix_len = if key.starts_with("sk_test_") || key.starts_with("sk_live_") {
        8
    } else {
        key.find('_').map_or(0, |i| i + 1)
    };
    let chars: Vec<char> = key.chars().collect();
    if chars.len() >= prefix_len + 8 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{}…{tail}", &key[..prefix_len])
    } else {
        format!("{}…", &key[..prefix_len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rate_limits() {
        assert_eq!("off".parse::<RateLimit>(), Ok(RateLimit::Off));
        assert_eq!(
            "500/5s".parse::<RateLimit>(),
            Ok(RateLimit::Fixed {
                requests: 500,
                window: Duration::from_secs(5)
            })
        );
        assert_eq!(
            "20/500ms".parse::<RateLimit>(),
            Ok(RateLimit::Fixed {
                requests: 20,
                window: Duration::from_millis(500)
            })
        );
        for bad in ["", "0/10s", "10", "10/0s", "x/10s", "10/10h"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        assert_eq!(
            RateLimit::Fixed {
                requests: 100,
                window: Duration::from_secs(10)
            }
            .to_string(),
            "100/10s"
        );
    }

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

    #[test]
    fn parses_latency_and_redacts_keys() {
        assert_eq!(
            "5..20".parse::<Latency>(),
            Ok(Latency {
                min: Duration::from_millis(5),
                max: Duration::from_millis(20)
            })
        );
        assert!("20..5".parse::<Latency>().is_err());
        assert_eq!(redact_key("sk_test_emulator"), "sk_test_…ator");
        assert_eq!(redact_key("sk_live_abc"), "sk_live_…");
        let dbg = format!("{:?}", Config::new().secret_key("sk_live_supersecretvalue"));
        assert!(!dbg.contains("supersecret"), "{dbg}");
    }
}
