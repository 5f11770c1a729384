//! Configuration: [`Config`], [`RateLimit`], [`FaultSpec`] and [`Latency`]; the CLI flags that
//! build one are [`EmulatorArgs`](crate::EmulatorArgs).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use crate::fault_spec::{DEFAULT_SLOW_APPLY_DELAY, FaultKind, FaultSpec};

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

/// The longest rate-limit window accepted: a day. Clerk's windows are 10 s; a window of
/// years would only ever block, and one of 2^63 s overflows the monotonic clock.
pub const MAX_RATE_LIMIT_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// The shortest rate-limit window accepted.
pub const MIN_RATE_LIMIT_WINDOW: Duration = Duration::from_millis(1);

impl RateLimit {
    /// Refuses a zero quota and windows outside
    /// [`MIN_RATE_LIMIT_WINDOW`]`..=`[`MAX_RATE_LIMIT_WINDOW`].
    pub fn check(&self) -> Result<(), ConfigError> {
        let Self::Fixed { requests, window } = *self else {
            return Ok(());
        };
        if requests == 0 {
            return Err(ConfigError::new(
                "invalid rate limit: the quota must be at least 1 request per window",
            ));
        }
        if !(MIN_RATE_LIMIT_WINDOW..=MAX_RATE_LIMIT_WINDOW).contains(&window) {
            return Err(ConfigError::new(format!(
                "invalid rate limit: the window must be between 1ms and 24h (1440m), got {}",
                describe_window(window)
            )));
        }
        Ok(())
    }

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

/// `1500ms`, `86400s`, or seconds for windows too long to print otherwise.
fn describe_window(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{d:?}")
    }
}

/// A read timeout flag: `500ms`, `30s`, `2m`.
pub(crate) fn parse_timeout(s: &str) -> Result<Duration, ConfigError> {
    parse_duration(s).ok_or_else(|| {
        ConfigError::new(format!(
            "invalid timeout {s:?}: expected a duration such as 500ms, 30s or 2m"
        ))
    })
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
        let limit = Self::Fixed { requests, window };
        limit.check()?;
        Ok(limit)
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
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) control_token: Option<String>,
    pub(crate) control_hosts: Vec<String>,
}

/// How long a client may take to send a request head, and how long an idle keep-alive
/// connection stays open (`--header-timeout`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to send a request body once the server reads it
/// (`--body-timeout`).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once (`--max-connections`): under the usual 1024 open-file limit,
/// with room for the client side of in-process tests.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// The longest read timeout accepted.
const MAX_READ_TIMEOUT: Duration = Duration::from_secs(60 * 60);

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
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            control_token: None,
            control_hosts: Vec::new(),
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
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_connections", &self.max_connections)
            .field(
                "control_token",
                &self.control_token.as_ref().map(|_| "<set>"),
            )
            .field("control_hosts", &self.control_hosts)
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

    /// How long a client may take to send a request head (headers included); also how long an
    /// idle keep-alive connection stays open. Default [`DEFAULT_HEADER_TIMEOUT`].
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// How long a client may take to send a request body once the server starts reading it;
    /// a body cut by it is answered 408 and its connection closed. Default
    /// [`DEFAULT_BODY_TIMEOUT`].
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Connections served at once; beyond it a new connection gets a 503 and is closed at
    /// once. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// A token the control API (`/_emulator/`) requires in the `Emulator-Control-Token`
    /// header (`GET /_emulator/health` and images excepted). Never logged.
    pub fn control_token(mut self, token: impl Into<String>) -> Self {
        self.control_token = Some(token.into());
        self
    }

    /// A host name the control API accepts in `Host` besides loopback addresses, `localhost`
    /// and the listen address (e.g. a container's service name). Repeatable.
    pub fn control_host(mut self, host: impl Into<String>) -> Self {
        self.control_hosts.push(host.into());
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
        self.rate_limit.check()?;
        for (flag, t) in [
            ("header-timeout", self.header_timeout),
            ("body-timeout", self.body_timeout),
        ] {
            if !(MIN_RATE_LIMIT_WINDOW..=MAX_READ_TIMEOUT).contains(&t) {
                return Err(ConfigError::new(format!(
                    "invalid --{flag}: expected 1ms to 1h (60m), got {}",
                    describe_window(t)
                )));
            }
        }
        if let Some(token) = &self.control_token
            && (token.len() < 8 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::new(
                "invalid control token: expected at least 8 printable ASCII characters without spaces",
            ));
        }
        for host in &self.control_hosts {
            let valid = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                return Err(ConfigError::new(format!(
                    "invalid --control-host {host:?}: expected a host name such as emulator"
                )));
            }
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError::new(format!(
                "invalid --max-connections: expected 1 to 1000000, got {}",
                self.max_connections
            )));
        }
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
        for bad in [
            "", "0/10s", "10", "10/0s", "x/10s", "10/10h", "1/0ms", "1/1441m",
        ] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        // 2^63 s used to reach the limiter and overflow `Instant + Duration`.
        let err = "1/9223372036854775808s".parse::<RateLimit>().unwrap_err();
        assert!(err.to_string().contains("between 1ms and 24h"), "{err}");
        assert!("1/1440m".parse::<RateLimit>().is_ok());
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
