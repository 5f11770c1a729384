//! Our client against its peers, on the same work: `GET /users/{id}` on the same
//! emulator, decoded into the same [`clerk_core::User`], through
//!
//! - **(a) stack**: the default `Clerk` stack (trace spans, operation and attempt
//!   timeouts, retry, rate limiter with a quota far above the load, concurrency cap,
//!   auth and version headers) over our transport;
//! - **(b) reqwest**: a plain `reqwest::Client`, built as clerk-rs and most Rust API
//!   clients are (`format!` the URL, `bearer_auth`, `send`, `error_for_status`,
//!   `json::<User>()`), no TLS on loopback;
//! - **(c) raw**: our transport with no layers: the same request built by
//!   [`GetUser`], the same three headers set by hand (the `Authorization` value
//!   built once, as the auth layer builds it), the same decoding and validation
//!   ([`GetUser`]'s `parse_response`).
//!
//! (a) and (c) share the transport's defaults (hyper-util's pool, no cap on idle
//! connections, 8 MiB body cap) and both read the whole body under the cap. What
//! (a) does on top, because its contract says so, and (c) does not: checks the
//! operation against its API version; counts the call and the attempt (metrics);
//! takes two deadlines (the operation's 60 s and the attempt's 10 s) and keeps the
//! attempt's timer armed, which covers the operation's while the attempt is in
//! flight (the task's timer from its last call, reset to this deadline);
//! keeps a copy of the request for a retry (method, URI, body; the operation's
//! `OperationInfo` apart from an extension map) and deposits into the retry budget
//! (a mutex and a clock read, tower's `TpsBudget`); takes a governor grant (a clock read)
//! and a concurrency permit (an atomic each way while nobody waits); puts the
//! `RateLimitWait` extension on the response; opens two spans (disabled here: no
//! subscriber is installed, so they cost a check each); takes a readied clone of
//! the type-erased stack from the client's spares for the call (`Service::call`
//! takes `&mut self`, the client is shared) and boxes the call's future. Those are
//! the (a)/(c) ratio.
//!
//! The emulator runs in a child process (this binary, re-run), so the client's CPU
//! time is the whole process's: user + sys from `getrusage(RUSAGE_SELF)`, divided by
//! the requests of the round. Each round runs the three clients one after another in
//! a rotating order (abc, bca, cab, …) so drifts in machine load hit all three alike;
//! the figures are the medians of the per-round ratios. Goals: (a)/(c) ≤ 1.05,
//! (a)/(b) ≤ 0.80.
//!
//! ```text
//! cargo bench --bench peers
//! PEERS_REQUESTS=20000 PEERS_ROUNDS=9 cargo bench --bench peers
//! bash benches/peers-callgrind.sh     # user-space instructions per request (median of 3), steadier
//! ```
//!
//! `PEERS_CONCURRENCY=N` sets the requests each client keeps in flight (default 16);
//! at 1 a call's polls follow one pattern (sent, pending, answered), so the
//! instruction counts move far less with the machine's load.
//!
//! `PEERS_CLIENT=stack|reqwest|raw` runs only that client for `PEERS_REQUESTS`
//! requests (after a fixed warm-up) and prints nothing else: the callgrind script
//! uses it to count instructions of one client alone.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use clerk_core::User;
use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::layers::rate_limit::Quota;
use clerk_tower::transport::Transport;
use clerk_tower::users::{CreateUser, GetUser};
use clerk_tower::{BaseUrl, Clerk, Operation};
use nix::sys::resource::{UsageWho, getrusage};
use tower::ServiceExt;

const KEY: &str = clerk_emulator::DEFAULT_SECRET_KEY;
const SERVER_ENV: &str = "PEERS_SERVER";
/// Requests in flight per client (`PEERS_CONCURRENCY`, default 16).
fn concurrency() -> usize {
    env_usize("PEERS_CONCURRENCY", 16).clamp(1, 1024)
}
const WARM_UP: usize = 1_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Peer {
    Stack,
    Reqwest,
    Raw,
}

impl Peer {
    const ALL: [Peer; 3] = [Peer::Stack, Peer::Reqwest, Peer::Raw];

    fn parse(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Peer::Stack => "stack",
            Peer::Reqwest => "reqwest",
            Peer::Raw => "raw",
        }
    }

    /// The issue's letter for this client: (a), (b), (c).
    fn letter(self) -> char {
        match self {
            Peer::Stack => 'a',
            Peer::Reqwest => 'b',
            Peer::Raw => 'c',
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), BoxError> {
    if std::env::var_os(SERVER_ENV).is_some() {
        return serve();
    }
    let only = match std::env::var("PEERS_CLIENT") {
        Ok(name) => Some(Peer::parse(&name).ok_or(format!(
            "PEERS_CLIENT={name:?}: expected stack, reqwest or raw"
        ))?),
        Err(_) => None,
    };
    let requests = env_usize("PEERS_REQUESTS", 10_000);
    let rounds = env_usize("PEERS_ROUNDS", 7).max(1);

    let server = Server::spawn()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let clients = Clients::new(&server.base_url, &server.user_id)?;
        for peer in Peer::ALL {
            clients.round(peer, WARM_UP).await?;
        }
        if let Some(peer) = only {
            clients.round(peer, requests).await?;
            return Ok(());
        }
        let user = clients.reqwest_get().await?;
        println!(
            "peers: GET /users/{{id}} of a {}-byte user, concurrency {}, {requests} requests per client per round, {rounds} rounds",
            serde_json::to_vec(&user)?.len(),
            concurrency()
        );
        println!("round  order  (a) stack µs  (b) reqwest µs  (c) raw µs  (a)/(c)  (a)/(b)");
        let mut over_raw = Vec::new();
        let mut over_reqwest = Vec::new();
        for round in 0..rounds {
            let mut cpu = [0.0_f64; 3];
            let mut order = String::new();
            for i in 0..3 {
                let index = (round + i) % 3;
                let peer = Peer::ALL[index];
                order.push(peer.letter());
                cpu[index] = clients.round(peer, requests).await?;
            }
            let [stack, reqwest, raw] = cpu;
            over_raw.push(stack / raw);
            over_reqwest.push(stack / reqwest);
            println!(
                "{:>5}  {order:<5}  {:>12.2}  {:>14.2}  {:>10.2}  {:>7.3}  {:>7.3}",
                round + 1,
                stack * 1e6,
                reqwest * 1e6,
                raw * 1e6,
                stack / raw,
                stack / reqwest
            );
        }
        println!(
            "peers: CPU per request, median of {rounds} rounds: (a)/(c) stack/raw = {:.3} (goal <= 1.05), (a)/(b) stack/reqwest = {:.3} (goal <= 0.80)",
            median(&mut over_raw),
            median(&mut over_reqwest)
        );
        Ok::<(), BoxError>(())
    });
    drop(runtime);
    server.stop();
    result
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// User + system CPU time of this whole process so far.
fn cpu_time() -> Result<Duration, BoxError> {
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Ok(micros(usage.user_time()) + micros(usage.system_time()))
}

/// The three clients, each with its connections warm.
struct Clients {
    clerk: Clerk,
    transport: Transport,
    base: BaseUrl,
    reqwest: reqwest::Client,
    base_url: String,
    user_id: String,
    /// (c)'s `Authorization` value, built once as the auth layer builds it.
    raw_auth: http::HeaderValue,
}

impl Clients {
    fn new(base_url: &str, user_id: &str) -> Result<Self, BoxError> {
        let clerk = Clerk::builder()
            .base_url(base_url)
            .secret_key(KEY)
            .quota(Quota::new(1_000_000, Duration::from_secs(1))?)
            .max_in_flight(1024)
            .build()?;
        Ok(Clients {
            clerk,
            transport: Transport::new()?,
            base: BaseUrl::parse(base_url)?,
            reqwest: reqwest::Client::builder()
                .user_agent(clerk_tower::layers::auth::USER_AGENT_VALUE)
                .build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            user_id: user_id.to_owned(),
            raw_auth: {
                let mut auth = http::HeaderValue::from_str(&format!("Bearer {KEY}"))?;
                auth.set_sensitive(true);
                auth
            },
        })
    }

    /// CPU seconds per request for `n` requests through `peer`, [`concurrency`] at a time.
    async fn round(&self, peer: Peer, n: usize) -> Result<f64, BoxError> {
        let before = cpu_time()?;
        let mut tasks = tokio::task::JoinSet::new();
        let in_flight = concurrency();
        for worker in 0..in_flight {
            let count = (worker..n).step_by(in_flight).len();
            let this = self.clone_handles();
            tasks.spawn(async move {
                for _ in 0..count {
                    let user = match peer {
                        Peer::Stack => this.clerk.users().get(this.user_id.as_str()).await?,
                        Peer::Reqwest => this.reqwest_get().await?,
                        Peer::Raw => this.raw_get().await?,
                    };
                    std::hint::black_box(user);
                }
                Ok::<(), BoxError>(())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined??;
        }
        let spent = cpu_time()?.saturating_sub(before);
        Ok(spent.as_secs_f64() / n as f64)
    }

    fn clone_handles(&self) -> Clients {
        Clients {
            clerk: self.clerk.clone(),
            transport: self.transport.clone(),
            base: self.base.clone(),
            reqwest: self.reqwest.clone(),
            base_url: self.base_url.clone(),
            user_id: self.user_id.clone(),
            raw_auth: self.raw_auth.clone(),
        }
    }

    /// (b): what a typical hand-written reqwest client does.
    async fn reqwest_get(&self) -> Result<User, BoxError> {
        let user = self
            .reqwest
            .get(format!("{}/users/{}", self.base_url, self.user_id))
            .bearer_auth(KEY)
            .header("Clerk-API-Version", clerk_tower::API_VERSION)
            .send()
            .await?
            .error_for_status()?
            .json::<User>()
            .await?;
        Ok(user)
    }

    /// (c): the transport alone, with the headers the auth layer would add.
    async fn raw_get(&self) -> Result<User, BoxError> {
        let operation = GetUser::new(&self.user_id);
        let mut request = operation.build_request(&self.base)?;
        let headers = request.headers_mut();
        headers.insert(http::header::AUTHORIZATION, self.raw_auth.clone());
        headers.insert(
            clerk_tower::layers::auth::CLERK_API_VERSION,
            http::HeaderValue::from_static(clerk_tower::API_VERSION),
        );
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static(clerk_tower::layers::auth::USER_AGENT_VALUE),
        );
        let response = self.transport.clone().oneshot(request).await?;
        Ok(operation.parse_response(response)?)
    }
}

/// The emulator in a child process, so its CPU time is not the client's.
struct Server {
    child: std::process::Child,
    base_url: String,
    user_id: String,
}

impl Server {
    fn spawn() -> Result<Server, BoxError> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(SERVER_ENV, "1")
            .env_remove("PEERS_CLIENT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("child has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some(base_url), Some(user_id)) => Ok(Server {
                child,
                base_url: base_url.to_owned(),
                user_id: user_id.to_owned(),
            }),
            _ => {
                let _ = child.kill();
                Err(format!("the emulator child printed {line:?}").into())
            }
        }
    }

    /// Closing the child's stdin ends it.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The child: an emulator (one worker thread, no rate limit) holding one user with
/// the fields a real profile has; prints `BASE_URL USER_ID`, serves until stdin closes.
fn serve() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let emulator = Emulator::start(Config::new().rate_limit(RateLimit::Off)).await?;
        let base_url = emulator.base_url();
        let clerk = Clerk::builder()
            .base_url(&base_url)
            .secret_key(KEY)
            .no_rate_limit()
            .build()?;
        let mut metadata = serde_json::Map::new();
        metadata.insert(
            "plan".into(),
            serde_json::json!({"tier": "pro", "seats": 12}),
        );
        metadata.insert("crm_id".into(), serde_json::json!("crm-0042"));
        let user = clerk
            .users()
            .create(
                CreateUser::new()
                    .external_id("crm-0042")
                    .first_name("Ada")
                    .last_name("Lovelace")
                    .username("ada_lovelace")
                    .email_address("ada@example.com")
                    .email_address("ada.lovelace@example.org")
                    .phone_number("+14155550100")
                    .public_metadata(metadata.clone())
                    .private_metadata(metadata),
            )
            .await?;
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{base_url} {}", user.id)?;
            stdout.flush()?;
        }
        // Serve until the parent closes our stdin (or exits).
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
        })
        .await?;
        emulator.shutdown().await?;
        Ok::<(), BoxError>(())
    })
}
