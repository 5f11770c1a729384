//! Command-line arguments shared by the commands, and the client they build.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::report::{Latencies, timed};
use clap::Args;
use clerk_core::SecretKey;
use clerk_layers::rate_limit::{Quota, RateLimiter, RedisOptions};
use clerk_tower::Clerk;
use clerk_tower::users::{CountUsers, ListUsers, UserFilter, UserOrderBy};

/// How to reach a Clerk instance, and how hard to push it.
#[derive(Args, Clone, Debug)]
pub(crate) struct ConnectArgs {
    /// Base URL of the Backend API (default `https://api.clerk.com/v1`).
    #[arg(long, env = "CLERK_API_URL", value_name = "URL")]
    pub(crate) api_url: Option<String>,
    /// The Clerk secret key (sk_live_… or sk_test_…). Never printed.
    #[arg(long, env = "CLERK_SECRET_KEY", hide_env_values = true, value_name = "KEY", value_parser = parse_key)]
    pub(crate) secret_key: Option<SecretKey>,
    /// Client-side rate limit `N/Ws` (e.g. `1000/10s`), or `off`; default from the
    /// key's instance type (1000/10s production, 100/10s development).
    #[arg(long, value_name = "N/Ws|off", value_parser = parse_rate)]
    pub(crate) rate_limit: Option<RateSpec>,
    /// Requests in flight at most (a pool of this many workers shares the rate limit).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) concurrency: u32,
    /// Largest response body accepted, in bytes (`K`, `M`, `G` suffixes: powers of
    /// 1024). The default holds the largest page Clerk can send: 500 users with
    /// 3 × 8 KB of metadata each.
    #[arg(long, value_name = "BYTES", default_value = "32M", value_parser = parse_size)]
    pub(crate) max_response_body: usize,
    #[command(flatten)]
    pub(crate) redis: RedisArgs,
}

/// Sharing the rate limit with other processes through Redis.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct RedisArgs {
    /// Share the rate limit (instance quota, per-user limit, 429 cooldown) with every
    /// process using this Redis and secret key: `redis://[:password@]host:port[/db]`.
    #[arg(long, env = "CLERK_REDIS_URL", hide_env_values = true, value_name = "URL", value_parser = parse_redis_url)]
    pub(crate) redis_url: Option<RedisUrl>,
    /// Processes sharing the quota: while Redis is unreachable each paces itself on
    /// 1/N of it (or less, when Redis last counted more live workers).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) expected_workers: u32,
    /// How much longer than its window the shared quota is spread over (default
    /// 100ms): at most N requests go out in any W + margin, so the server sees at most
    /// N in any W while the processes' delays to it differ by less. Raise it for
    /// workers on several machines or on a loaded one. Needs --redis-url.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) window_margin: Option<Duration>,
}

/// A `--redis-url`: may hold a password, so it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl(String);

impl RedisUrl {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisUrl(..)")
    }
}

/// Takes any text: clap would quote a refused value, password included, so the URL is
/// checked when the limiter is built ([`RedisArgs::limiter`]), which never quotes it.
pub(crate) fn parse_redis_url(s: &str) -> Result<RedisUrl, String> {
    Ok(RedisUrl(s.to_owned()))
}

impl RedisArgs {
    /// Takes the flags given before the subcommand (`before(id)`).
    pub(crate) fn adopt(&mut self, top: &RedisArgs, before: &impl Fn(&str) -> bool) {
        if before("redis_url") {
            self.redis_url.clone_from(&top.redis_url);
        }
        if before("expected_workers") {
            self.expected_workers = top.expected_workers;
        }
        if before("window_margin") {
            self.window_margin = top.window_margin;
        }
    }

    /// The rate limiter for `quota`: on Redis when `--redis-url` is given, else local.
    pub(crate) fn limiter(&self, quota: Quota, key: &SecretKey) -> Result<RateLimiter, String> {
        let Some(url) = &self.redis_url else {
            if self.window_margin.is_some() {
                return Err("--window-margin applies to a quota shared through Redis: \
                            add --redis-url"
                    .to_owned());
            }
            return Ok(RateLimiter::new(quota));
        };
        let mut options = RedisOptions::new(url.as_str(), key)
            .map_err(|e| format!("--redis-url: {e}: expected redis://[:password@]host:port[/db]"))?
            .expected_workers(self.expected_workers);
        if let Some(margin) = self.window_margin {
            if margin > quota.window() {
                return Err(format!(
                    "--window-margin {margin:?} is longer than the quota's window ({:?})",
                    quota.window()
                ));
            }
            options = options.window_margin(margin);
        }
        Ok(RateLimiter::redis(quota, options))
    }
}

/// Output options shared by every command.
#[derive(Args, Clone, Copy, Debug)]
pub(crate) struct OutputArgs {
    /// Machine-readable output: one JSON object (or JSON Lines for `export`).
    #[arg(long)]
    pub(crate) json: bool,
    /// Log what the client does (-v: info, -vv: debug, -vvv: trace) to stderr.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// The ids of [`ConnectArgs`]' flags, as clap names them (refused before `emulator`).
#[cfg(feature = "emulator")]
pub(crate) const CONNECT_FLAGS: &[&str] = &[
    "api_url",
    "secret_key",
    "rate_limit",
    "concurrency",
    "redis_url",
    "expected_workers",
    "window_margin",
    "max_response_body",
];

/// Whether flag `id` was typed on the command line of `matches` (not taken from the
/// environment or a default).
pub(crate) fn given(matches: &clap::ArgMatches, id: &str) -> bool {
    matches.try_contains_id(id).unwrap_or(false)
        && matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
}

/// Moves the common flags given before the subcommand (`before(id)`) into its own.
pub(crate) fn adopt(
    connect: &mut ConnectArgs,
    output: &mut OutputArgs,
    top: &ConnectArgs,
    top_output: OutputArgs,
    before: impl Fn(&str) -> bool,
) {
    if before("api_url") {
        connect.api_url.clone_from(&top.api_url);
    }
    if before("secret_key") {
        connect.secret_key.clone_from(&top.secret_key);
    }
    if before("rate_limit") {
        connect.rate_limit = top.rate_limit;
    }
    if before("concurrency") {
        connect.concurrency = top.concurrency;
    }
    connect.redis.adopt(&top.redis, &before);
    if before("max_response_body") {
        connect.max_response_body = top.max_response_body;
    }
    output.json |= top_output.json;
    output.verbose = output.verbose.saturating_add(top_output.verbose);
}

/// A byte count: digits, optionally followed by `K`, `M` or `G` (powers of 1024).
pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let bad = || format!("invalid size {s:?}: expected bytes such as 8388608, 512K or 32M");
    let t = s.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err(bad()),
    };
    let n: usize = digits.parse().map_err(|_| bad())?;
    match n.checked_mul(1 << shift) {
        Some(0) | None => Err(bad()),
        Some(bytes) => Ok(bytes),
    }
}

pub(crate) fn parse_key(s: &str) -> Result<SecretKey, String> {
    let key = SecretKey::new(s);
    if key.is_empty() {
        Err("the secret key is empty".into())
    } else {
        Ok(key)
    }
}

/// A `--rate-limit` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RateSpec {
    /// No client-side limit.
    Off,
    /// At most `requests` per `window`.
    Fixed { requests: u32, window: Duration },
}

impl RateSpec {
    /// The client quota; `None` when off.
    pub(crate) fn quota(self) -> Result<Option<Quota>, String> {
        match self {
            Self::Off => Ok(None),
            Self::Fixed { requests, window } => Quota::new(requests, window)
                .map(Some)
                .map_err(|e| e.to_string()),
        }
    }

    /// The same limit for the embedded emulator.
    #[cfg(feature = "emulator")]
    pub(crate) fn emulator(self) -> clerk_emulator::RateLimit {
        match self {
            Self::Off => clerk_emulator::RateLimit::Off,
            Self::Fixed { requests, window } => {
                clerk_emulator::RateLimit::Fixed { requests, window }
            }
        }
    }
}

/// The operation timeout of every command's client.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// `300ms`, `2s`, `1.5s`, `2m`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |at| s.split_at(at));
    let n: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 300ms, 2s, 1m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s or m")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration {s:?} must be between 0 and 24 h"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `--rate-limit`: `off`, or a quota `N/W` as [`Quota`] reads it (`1000/10s`).
pub(crate) fn parse_rate(s: &str) -> Result<RateSpec, String> {
    if matches!(s.trim(), "off" | "none") {
        return Ok(RateSpec::Off);
    }
    let quota: Quota = s.parse().map_err(|_| {
        format!(
            "invalid rate limit {:?}: expected `N/Ws` such as `1000/10s`, or `off`",
            s.chars().take(64).collect::<String>()
        )
    })?;
    Ok(RateSpec::Fixed {
        requests: quota.requests(),
        window: quota.window(),
    })
}

/// What a command that needs a server says when it has no key.
pub(crate) const NO_KEY_HELP: &str = "no Clerk secret key: pass --secret-key KEY or set CLERK_SECRET_KEY \
(sk_live_… or sk_test_…, from the Clerk Dashboard under API Keys).\n\
To try things locally, start the emulator in another terminal with `clerk-users emulator` and add \
`--api-url http://127.0.0.1:8080 --secret-key sk_test_emulator`.";

impl ConnectArgs {
    /// The quota the client paces itself with.
    pub(crate) fn quota(&self) -> Result<Option<Quota>, String> {
        match self.rate_limit {
            Some(spec) => spec.quota(),
            None => Ok(Some(
                self.secret_key
                    .as_ref()
                    .map_or(Quota::development(), Quota::for_key),
            )),
        }
    }

    /// Builds the client with the full default stack.
    pub(crate) fn client(&self) -> Result<Clerk, String> {
        self.client_timed(&Arc::new(Latencies::default()))
    }

    /// Builds the client, recording each attempt's latency into `latencies`.
    pub(crate) fn client_timed(&self, latencies: &Arc<Latencies>) -> Result<Clerk, String> {
        self.builder_timed(latencies)?
            .build()
            .map_err(|e| format!("cannot build the Clerk client: {e}"))
    }

    /// The builder of [`ConnectArgs::client_timed`], for commands that set more.
    pub(crate) fn builder_timed(
        &self,
        latencies: &Arc<Latencies>,
    ) -> Result<clerk_tower::ClerkBuilder, String> {
        let key = self
            .secret_key
            .clone()
            .ok_or_else(|| NO_KEY_HELP.to_owned())?;
        let mut builder = Clerk::builder()
            .secret_key(key.clone())
            .max_in_flight(self.concurrency as usize)
            .max_response_body(self.max_response_body)
            // A bulk job waits out a long Retry-After rather than failing records.
            .operation_timeout(OPERATION_TIMEOUT);
        if let Some(url) = &self.api_url {
            builder = builder.base_url(url.clone());
        }
        builder = timed(builder, latencies);
        Ok(match self.quota()? {
            Some(quota) if self.redis.redis_url.is_some() || self.redis.window_margin.is_some() => {
                builder.rate_limiter(self.redis.limiter(quota, &key)?)
            }
            Some(quota) => builder.quota(quota),
            None => builder.no_rate_limit(),
        })
    }

    /// `N req / W s` of the quota, for reports; `None` when off.
    pub(crate) fn quota_rps(&self) -> Option<f64> {
        self.quota()
            .ok()
            .flatten()
            .map(|q| f64::from(q.requests()) / q.window().as_secs_f64())
    }
}

/// The filters of `GET /users` (for `export` and `count`).
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct FilterArgs {
    /// Only users with this email address (repeatable).
    #[arg(long = "email-address", value_name = "EMAIL")]
    email_address: Vec<String>,
    /// Only users with this phone number (repeatable).
    #[arg(long = "phone-number", value_name = "PHONE")]
    phone_number: Vec<String>,
    /// Only users with this external id (repeatable; `+id` includes, `-id` excludes).
    #[arg(long = "external-id", value_name = "ID", allow_hyphen_values = true)]
    external_id: Vec<String>,
    /// Only users with this username (repeatable).
    #[arg(long, value_name = "NAME")]
    username: Vec<String>,
    /// Only users with this web3 wallet (repeatable).
    #[arg(long = "web3-wallet", value_name = "ADDR")]
    web3_wallet: Vec<String>,
    /// Only these user ids (repeatable; `+id` includes, `-id` excludes).
    #[arg(long = "user-id", value_name = "ID", allow_hyphen_values = true)]
    user_id: Vec<String>,
    /// Only members of this organization (repeatable).
    #[arg(
        long = "organization-id",
        value_name = "ID",
        allow_hyphen_values = true
    )]
    organization_id: Vec<String>,
    /// Partial match on emails, phones, usernames, wallets, ids and names.
    #[arg(long)]
    query: Option<String>,
    /// Partial, case-insensitive match on email addresses.
    #[arg(long = "email-address-query")]
    email_address_query: Option<String>,
    /// Partial match on phone numbers.
    #[arg(long = "phone-number-query")]
    phone_number_query: Option<String>,
    /// Partial, case-insensitive match on usernames.
    #[arg(long = "username-query")]
    username_query: Option<String>,
    /// Partial, case-insensitive match on first or last names.
    #[arg(long = "name-query")]
    name_query: Option<String>,
    /// Only banned (`true`) or not banned (`false`) users.
    #[arg(long)]
    banned: Option<bool>,
    /// Only users created before this time (Unix ms).
    #[arg(long = "created-at-before", value_name = "UNIX_MS")]
    created_at_before: Option<i64>,
    /// Only users created after this time (Unix ms).
    #[arg(long = "created-at-after", value_name = "UNIX_MS")]
    created_at_after: Option<i64>,
    /// Only users last active before this time (Unix ms).
    #[arg(long = "last-active-at-before", value_name = "UNIX_MS")]
    last_active_at_before: Option<i64>,
    /// Only users last active after this time (Unix ms).
    #[arg(long = "last-active-at-after", value_name = "UNIX_MS")]
    last_active_at_after: Option<i64>,
    /// Only users who last signed in before this time (Unix ms).
    #[arg(long = "last-sign-in-at-before", value_name = "UNIX_MS")]
    last_sign_in_at_before: Option<i64>,
    /// Only users who last signed in after this time (Unix ms).
    #[arg(long = "last-sign-in-at-after", value_name = "UNIX_MS")]
    last_sign_in_at_after: Option<i64>,
}

impl FilterArgs {
    /// The filter as the client's request type.
    pub(crate) fn filter(&self) -> UserFilter {
        let mut f = UserFilter::new()
            .email_addresses(self.email_address.clone())
            .phone_numbers(self.phone_number.clone())
            .external_ids(self.external_id.clone())
            .usernames(self.username.clone())
            .web3_wallets(self.web3_wallet.clone())
            .user_ids(self.user_id.clone())
            .organization_ids(self.organization_id.clone());
        let strings = [
            (
                &self.query,
                UserFilter::query as fn(UserFilter, String) -> UserFilter,
            ),
            (&self.email_address_query, UserFilter::email_address_query),
            (&self.phone_number_query, UserFilter::phone_number_query),
            (&self.username_query, UserFilter::username_query),
            (&self.name_query, UserFilter::name_query),
        ];
        for (value, set) in strings {
            if let Some(v) = value {
                f = set(f, v.clone());
            }
        }
        let times = [
            (
                self.created_at_before,
                UserFilter::created_at_before as fn(UserFilter, i64) -> UserFilter,
            ),
            (self.created_at_after, UserFilter::created_at_after),
            (
                self.last_active_at_before,
                UserFilter::last_active_at_before,
            ),
            (self.last_active_at_after, UserFilter::last_active_at_after),
            (
                self.last_sign_in_at_before,
                UserFilter::last_sign_in_at_before,
            ),
            (
                self.last_sign_in_at_after,
                UserFilter::last_sign_in_at_after,
            ),
        ];
        for (value, set) in times {
            if let Some(v) = value {
                f = set(f, v);
            }
        }
        if let Some(b) = self.banned {
            f = f.banned(b);
        }
        f
    }

    /// A listing with these filters, in 500-user pages.
    pub(crate) fn list(&self, order_by: Option<UserOrderBy>) -> ListUsers {
        let list = ListUsers::new().filter(self.filter()).limit(500);
        match order_by {
            Some(order) => list.order_by(order),
            None => list,
        }
    }

    /// A count with these filters.
    pub(crate) fn count(&self) -> CountUsers {
        CountUsers::new().filter(self.filter())
    }
}

/// Where to read ids from for the bulk actions.
#[derive(Args, Clone, Debug)]
pub(crate) struct IdsArgs {
    /// File of user ids, one per line (blank lines and `#` comments skipped; JSON
    /// lines with an `id` field, as `export` writes them, work too). `-` or
    /// absent: standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) ids: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse_or_explain() {
        assert_eq!(parse_rate("off"), Ok(RateSpec::Off));
        assert_eq!(
            parse_rate("300/1s"),
            Ok(RateSpec::Fixed {
                requests: 300,
                window: Duration::from_secs(1)
            })
        );
        assert_eq!(
            parse_rate("1000/10s"),
            Ok(RateSpec::Fixed {
                requests: 1000,
                window: Duration::from_secs(10)
            })
        );
        for bad in ["", "fast", "0/1s", "10/0s", "default"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_parse_or_explain() {
        assert_eq!(parse_size("200000"), Ok(200_000));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("32M"), Ok(32 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        for bad in ["", "0", "-1", "12X", "K", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_key_explains_how_to_get_one() {
        let args = ConnectArgs {
            api_url: None,
            secret_key: None,
            rate_limit: None,
            concurrency: 4,
            redis: RedisArgs::default(),
            max_response_body: 1 << 20,
        };
        let err = args.client().unwrap_err();
        assert!(
            err.contains("--secret-key")
                && err.contains("CLERK_SECRET_KEY")
                && err.contains("clerk-users emulator")
        );
    }

    #[test]
    fn a_window_margin_needs_a_shared_quota_and_fits_its_window() {
        let key = SecretKey::new("sk_test_margin");
        let quota = Quota::new(100, Duration::from_secs(10)).unwrap();
        let margin = |m: u64, url: Option<&str>| RedisArgs {
            redis_url: url.map(|u| RedisUrl(u.to_owned())),
            expected_workers: 1,
            window_margin: Some(Duration::from_millis(m)),
        };
        // Not silently ignored on a local quota.
        let err = margin(500, None).limiter(quota, &key).unwrap_err();
        assert!(err.contains("--redis-url"), "{err}");
        let url = Some("redis://127.0.0.1:1");
        let err = margin(10_001, url).limiter(quota, &key).unwrap_err();
        assert!(err.contains("longer than the quota's window"), "{err}");
        assert!(margin(10_000, url).limiter(quota, &key).is_ok());
        // Taken before the subcommand too.
        let mut sub = RedisArgs::default();
        sub.adopt(&margin(500, url), &|id| id == "window_margin");
        assert_eq!(sub.window_margin, Some(Duration::from_millis(500)));
    }
}
