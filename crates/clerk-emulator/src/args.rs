//! The emulator's command-line flags, [`EmulatorArgs`]: one set for `clerk-emulator` and
//! `clerk-users emulator`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::Duration;

use crate::config::{
    Config, ConfigError, FaultSpec, Latency, RateLimit, parse_timeout, redact_key,
};

/// The emulator's command-line flags, shared by `clerk-emulator` and `clerk-users emulator`.
#[derive(clap::Args, Clone)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Secret key of an instance (repeatable). `sk_live_…` is production, `sk_test_…`
    /// development. Default: one development instance `sk_test_emulator`.
    #[arg(long = "secret-key", value_name = "KEY")]
    pub secret_keys: Vec<String>,
    /// Instance rate limit: `N/Ws` (e.g. `500/5s`), `off`, or `default` (Clerk's: 1000/10s
    /// production, 100/10s development).
    #[arg(long, value_name = "N/Ws|off", default_value = "default")]
    pub rate_limit: RateLimit,
    /// Fault probabilities, e.g. `5xx=0.05,reset=0.02,lost_response=0.02,429=0.01`.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<FaultSpec>,
    /// Added latency per request, uniform in MIN..MAX milliseconds.
    #[arg(long, value_name = "MIN..MAX")]
    pub latency: Option<Latency>,
    /// JSON seed file (users, organizations, external accounts, passkeys, OAuth tokens).
    #[arg(long = "seed", value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// JSON state file: loaded at start if present, written atomically on shutdown.
    #[arg(long = "state", value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Time a client has to send a request head; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub header_timeout: Duration,
    /// Time a client has to send a request body once the server reads it (then 408, closed).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub body_timeout: Duration,
    /// Connections served at once; beyond it new connections get a 503 and are closed.
    #[arg(long, value_name = "N", default_value_t = crate::config::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// A token the control API (`/_emulator/`) then requires in the `Emulator-Control-Token`
    /// header.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CLERK_EMULATOR_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub control_token: Option<String>,
    /// A host name the control API accepts besides loopback, `localhost` and the listen
    /// address (repeatable), e.g. a container's service name.
    #[arg(long = "control-host", value_name = "NAME")]
    pub control_hosts: Vec<String>,
}

impl fmt::Debug for EmulatorArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorArgs")
            .field("listen", &self.listen)
            .field(
                "secret_keys",
                &self
                    .secret_keys
                    .iter()
                    .map(|k| redact_key(k))
                    .collect::<Vec<_>>(),
            )
            .field("rate_limit", &self.rate_limit)
            .field("faults", &self.faults)
            .field("latency", &self.latency)
            .field("seed", &self.seed)
            .field("state", &self.state)
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

impl EmulatorArgs {
    /// Turns the flags into a validated [`Config`].
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut config = Config::new()
            .listen(self.listen)
            .rate_limit(self.rate_limit)
            .header_timeout(self.header_timeout)
            .body_timeout(self.body_timeout)
            .max_connections(self.max_connections);
        for key in self.secret_keys {
            config = config.secret_key(key);
        }
        if let Some(faults) = self.faults {
            config = config.faults(faults);
        }
        if let Some(l) = self.latency {
            config = config.latency(l.min, l.max);
        }
        if let Some(seed) = self.seed {
            config = config.seed_file(seed);
        }
        if let Some(state) = self.state {
            config = config.state_file(state);
        }
        if let Some(token) = self.control_token {
            config = config.control_token(token);
        }
        for host in self.control_hosts {
            config = config.control_host(host);
        }
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_SECRET_KEY, FaultKind};

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    #[test]
    fn cli_flags_become_a_config_without_leaking_keys() {
        use clap::Parser as _;
        let cli = Cli::try_parse_from([
            "clerk-emulator",
            "--listen",
            "127.0.0.1:0",
            "--secret-key",
            "sk_live_topsecretvalue1",
            "--secret-key",
            "sk_test_other_instance",
            "--rate-limit",
            "500/5s",
            "--faults",
            "5xx=0.05,reset=0.02,lost_response=0.02,429=0.01",
            "--latency",
            "5..20",
            "--seed",
            "seed.json",
            "--state",
            "state.json",
            "--control-token",
            "ctl-topsecret-token",
            "--control-host",
            "emulator",
        ])
        .unwrap();
        assert!(!format!("{cli:?}").contains("topsecret"));
        let config = cli.args.into_config().unwrap();
        assert!(!format!("{config:?}").contains("topsecret"));
        assert_eq!(config.control_token.as_deref(), Some("ctl-topsecret-token"));
        assert_eq!(config.control_hosts, ["emulator"]);
        assert_eq!(config.keys().len(), 2);
        assert_eq!(
            config.rate_limit,
            RateLimit::Fixed {
                requests: 500,
                window: Duration::from_secs(5)
            }
        );
        assert_eq!(config.faults.probability(FaultKind::LostResponse), 0.02);
        assert_eq!(
            config.latency.map(|l| l.max),
            Some(Duration::from_millis(20))
        );
        for bad in [
            vec!["x", "--rate-limit", "fast"],
            vec!["x", "--faults", "reset=2"],
            vec!["x", "--latency", "9..1"],
            vec!["x", "--listen", "nowhere"],
            vec!["x", "--body-timeout", "soon"],
            vec!["x", "--header-timeout", "0s"],
        ] {
            assert!(Cli::try_parse_from(bad.clone()).is_err(), "{bad:?}");
        }
        let short = Cli::try_parse_from(["x", "--secret-key", "sk_1"]).unwrap();
        assert!(short.args.into_config().is_err());
        for bad in [
            ["x", "--max-connections", "0"],
            ["x", "--body-timeout", "61m"],
        ] {
            let cli = Cli::try_parse_from(bad).unwrap();
            assert!(cli.args.into_config().is_err(), "{bad:?}");
        }
        let tight = Cli::try_parse_from([
            "x",
            "--header-timeout",
            "500ms",
            "--body-timeout",
            "2s",
            "--max-connections",
            "64",
        ])
        .unwrap()
        .args
        .into_config()
        .unwrap();
        assert_eq!(tight.header_timeout, Duration::from_millis(500));
        assert_eq!(tight.body_timeout, Duration::from_secs(2));
        assert_eq!(tight.max_connections, 64);
        let default = Cli::try_parse_from(["x"])
            .unwrap()
            .args
            .into_config()
            .unwrap();
        assert_eq!(default.keys(), vec![DEFAULT_SECRET_KEY.to_owned()]);
        assert_eq!(default.listen, "127.0.0.1:8080".parse().unwrap());
    }
}
