//! A faithful local emulator of Clerk's Backend API (Users resource), stateful and in memory,
//! with Clerk's rate limits and fault injection on purpose. Think stripe-mock, but stateful.
//!
//! # Starting it
//!
//! In process (tests, examples, benches), on the current tokio runtime:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use clerk_emulator::{Config, Emulator, RateLimit};
//!
//! let emu = Emulator::start(Config::new().rate_limit(RateLimit::Off)).await?;
//! println!("Clerk API at {} with key sk_test_emulator", emu.base_url());
//! // … talk to it with any Clerk client …
//! emu.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! As a binary: `clerk-emulator [--listen ADDR] [--secret-key KEY]… [--rate-limit N/Ws|off]
//! [--faults SPEC] [--latency MIN..MAX] [--seed FILE] [--state FILE] [--header-timeout D]
//! [--body-timeout D] [--max-connections N] [--control-token TOKEN] [--control-host NAME]…`.
//! The first line on stdout is `listening on http://ADDR`. Ctrl-C or SIGTERM shut it down gracefully (in-flight requests
//! finish, then the state file is written). The same flags are [`EmulatorArgs`], so other
//! binaries can embed them with `#[command(flatten)]` and call [`run_until_shutdown`].
//!
//! # What it emulates
//!
//! All 27 Users operations under `/v1` (`GET/POST /users`, `/users/count`, `/users/{id}` and its
//! sub-resources, `/users/ban`, `/users/unban`, `GET /organization_memberships`) plus the three
//! endpoints that create organization state: `POST /organizations`,
//! `POST /organizations/{id}/memberships`, `POST /organizations/{id}/invitations`.
//!
//! * **Instances.** Each `--secret-key` is its own instance with its own data; `sk_live_…` is
//!   production, anything else development. Default: one development instance
//!   `sk_test_emulator`. A missing or unknown `Authorization: Bearer` key is a 401
//!   `authentication_invalid`.
//! * **Wire format.** Errors are `{"errors":[{"message","long_message","code","meta"?}],
//!   "clerk_trace_id"}` with Clerk's codes; every JSON answer has `Content-Type:
//!   application/json` exactly. Timestamps are Unix ms. `GET /users`, bulk ban/unban and
//!   OAuth tokens (without `paginated=true`) answer bare arrays. Users carry every property of
//!   the spec's `User` schema (`null` where unset).
//! * **Validation.** Unknown body fields (where the spec forbids them) are 422
//!   `form_param_unknown`; wrong types 422 `form_param_format_invalid`; malformed JSON 400
//!   `request_body_invalid`; bodies over 1 MiB (10 MiB for profile images) 413; `limit`
//!   outside 1..=500, negative `offset`, unknown `order_by` 422. Bodyless POST/DELETE accept an
//!   empty body, `{}` or `null`. `Clerk-API-Version` (or `__clerk_api_version`) may be absent or
//!   a published version (2021-02-05, 2024-10-01, 2025-03-12, 2025-04-10, 2025-11-10,
//!   2026-05-12); anything else, or both at once, is 400 `api_version_invalid`. Under
//!   2026-05-12, metadata fields in `PATCH /users/{id}` are rejected as Clerk does; under
//!   2025-04-10 the password-compromised operations do not exist (404). Path
//!   segments are percent-decoded once: `user_1%2Fban` is one (unknown) id.
//! * **The newer operations.** A password marked compromised (`set_compromised`) fails
//!   `verify_password` with 422 `form_password_pwned` until it is unmarked, changed or
//!   removed; `remove_password` leaves `password_enabled: false` (and `verify_password` 400
//!   `password_not_set`). `PUT …/metadata` replaces each given field and counts toward the
//!   per-user limit. Replacing the email (phone) leaves one, primary unless `reserved` or
//!   `unverified`. Trusted devices and subscriptions come from the seed file or the control
//!   API; a revoked device leaves the list. Credits are a ledger: an adjustment whose
//!   `idempotency_key` was seen returns the first entry and changes nothing.
//! * **Emulated instance settings.** No identifier and no password are required (so
//!   `skip_password_requirement` has nothing to skip); emails, phones (E.164: `+` and 7 to 15
//!   digits), usernames (4–64 of `[a-z0-9_.-]`) and web3 wallets (`0x` + 40 hex) are
//!   validated by the rules of the `clerk-rules` crate (shared with the CLI) and unique per
//!   instance (422 `form_identifier_exists`), compared case-insensitively (emails, usernames
//!   and wallets are stored lowercase). Passwords need 8..=72 bytes and must not be on a small
//!   breached list unless `skip_password_checks`. Plain passwords are stored as a fast salted
//!   hash; `password_digest` + `password_hasher` are validated per hasher (422
//!   `form_password_digest_invalid`) and verified by `verify_password`. A lock lasts 1 hour.
//!   Profile images accept any bytes and content type; `image_url` points at
//!   `/_emulator/images/{id}` on the emulator, which serves them back.
//!
//! # Connections
//!
//! A slow client cannot hold the server: a request head must arrive within `--header-timeout`
//! (default 30 s; also how long an idle keep-alive connection stays open), a body within
//! `--body-timeout` (default 30 s) of the server starting to read it, else 408
//! `request_timeout` and the connection is closed; at most `--max-connections` (default 512)
//! connections are served at once, and beyond that a new connection gets a 503 and is closed
//! at once. Each of these is logged once per burst, not once per connection.
//!
//! # Rate limits
//!
//! Per instance, a true sliding window over admitted requests: Clerk's 1000 / 10 s for
//! production and 100 / 10 s for development, or `--rate-limit N/Ws`, or `off`. A request over
//! the limit gets 429 `too_many_requests` with `Retry-After: <seconds, rounded up>` and its
//! endpoint (operation) stays blocked for exactly that many seconds. **Rejected requests are not
//! admitted and do not count toward the window.** `PATCH /users/{id}` and
//! `PATCH /users/{id}/metadata` also share a per-user window of 10 per 10 s (also switched off by
//! `--rate-limit off`). Requests without a valid key and `/_emulator/*` are never counted.
//!
//! # Faults
//!
//! `--faults '5xx=0.05,reset=0.02,lost_response=0.02,429=0.01'` draws one fault per `/v1`
//! request with these probabilities (`slow_apply_ms=N` in the same spec sets the slow-apply delay):
//!
//! | kind | effect | applied? |
//! |---|---|---|
//! | `5xx` | 500, 502 or 503 with a Clerk error body | no |
//! | `reset` | connection closed without a response | no |
//! | `lost_response` | request handled in full, then the connection closed without a response | **yes** |
//! | `429` | spurious 429 `too_many_requests` with `Retry-After` (1–3 s) | no |
//! | `slow_apply` | admitted by the rate limiter on arrival, held `slow_apply_ms` (default 12 000: past a 10 s attempt timeout), then applied even if the client has gone; then answered | **yes, late** |
//! | `bad_body` | handled in full; a 2xx body is then cut in half or replaced by a proxy's HTML page (other statuses pass) | **yes** |
//! | `wrong_object` | answered 200 `{"object":"total_count","total_count":3}`, as by a misrouted proxy | no |
//!
//! `--latency MIN..MAX` delays the answer to every `/v1` request by a uniform number of
//! milliseconds. The request is handled (and counted by the rate limiter) when it arrives; the
//! delay comes after, so it never reorders what the limiter sees.
//! Faults come before authentication and rate limiting; they are never applied to `/_emulator/`.
//!
//! # Control API (`/_emulator/`, no rate limit, no faults)
//!
//! | request | effect |
//! |---|---|
//! | `GET /_emulator/health` | `{"ok":true}` |
//! | `GET /_emulator/stats` | [`Stats`] as JSON |
//! | `POST /_emulator/reset` | empties every instance, zeroes counters and rate-limit windows (fault settings stay) |
//! | `GET /_emulator/faults` | current settings: `{"spec","probabilities","latency_ms","next"}` |
//! | `POST /_emulator/faults` | changes settings, body below |
//! | `DELETE /_emulator/faults` | no faults, no latency, empty queue |
//! | `GET /_emulator/images/{id}` | a stored profile image (`default`: the placeholder avatar) |
//! | `POST /_emulator/users/{user_id}/external_accounts` | adds an external account (with an OAuth access token) |
//! | `POST /_emulator/users/{user_id}/passkeys` | adds a passkey, answers `{"id","user_id"}` |
//! | `POST /_emulator/users/{user_id}/trusted_devices` | enrols a trusted device (`platform` `ios`/`android`, `app_identifier`, `name`, `last_used_at`), answers the `TrustedDevice` |
//! | `POST /_emulator/users/{user_id}/billing_subscription` | gives the user a one-plan subscription (`plan`, `amount` in cents, `currency`, `status`, `period` `month`/`annual`), answers the `CommerceSubscription` |
//! | `PATCH /_emulator/users/{user_id}/activity` | sets `last_sign_in_at` / `last_active_at` (Unix ms or `null`) |
//!
//! The `users/…` endpoints need the instance's `Authorization: Bearer` key.
//!
//! Who may call it (a web page the developer visits must not): `POST`/`PUT`/`PATCH` need
//! `Content-Type: application/json` (415 otherwise) and, where a body is expected (`faults`,
//! `users/…`), a JSON object; a request with an `Origin` other than the emulator's own, or a
//! `Sec-Fetch-Site` other than `same-origin`/`none`, is 403 `origin_invalid`; a `Host` that is
//! not a loopback address, `localhost`, the listen address (any address when listening on all)
//! or a `--control-host NAME` is 403 `host_invalid` (DNS rebinding). With `--control-token`
//! (or `CLERK_EMULATOR_CONTROL_TOKEN`), every control request but `GET health` and
//! `GET images/…` needs the header `Emulator-Control-Token: TOKEN` (401
//! `control_token_invalid`); the token is never logged.
//!
//! `POST /_emulator/faults` body (every key optional):
//!
//! ```json
//! {
//!   "spec": "5xx=0.1,reset=0.05",
//!   "lost_response": 0.02,
//!   "latency_ms": {"min": 5, "max": 20},
//!   "clear_next": true,
//!   "next": [
//!     {"kind": "5xx", "status": 503},
//!     {"kind": "reset"},
//!     {"kind": "none"},
//!     {"kind": "lost_response", "operation": "CreateUser"},
//!     {"kind": "429", "retry_after": 2},
//!     {"kind": "slow_apply", "delay_ms": 600, "operation": "CreateUser"},
//!     {"kind": "bad_body", "body": "html"},
//!     {"kind": "wrong_object"}
//!   ]
//! }
//! ```
//!
//! `spec` replaces all probabilities; `"5xx"`, `"reset"`, `"lost_response"`, `"429"`,
//! `"slow_apply"`, `"bad_body"`, `"wrong_object"` set one, `"slow_apply_ms"` the delay;
//! `latency_ms: null` removes latency. `next` appends to a scripted queue consumed before any
//! probability is drawn: each `/v1` request takes the first entry whose `operation` (a spec
//! operationId) matches or is absent; `kind: "none"` lets that request through.
//!
//! External account body: `provider` (required, `oauth_google` or `google`), optional
//! `provider_user_id`, `email_address`, `first_name`, `last_name`, `username`, `phone_number`,
//! `image_url`, `approved_scopes`, `label`, `public_metadata`, and the access token: `token`
//! (generated when absent, `null` for none), `token_secret`, `id_token`, `scopes` (array),
//! `expires_at` (Unix ms). Passkey body: optional `name`, `last_used_at`.
//!
//! # Seed file (`--seed FILE`)
//!
//! Applied at start when no state file exists yet:
//!
//! ```json
//! {
//!   "instances": {
//!     "sk_test_emulator": {
//!       "users": [
//!         {
//!           "id": "user_seed1",
//!           "email_address": ["ada@example.com"],
//!           "first_name": "Ada",
//!           "password": "correct horse battery",
//!           "last_sign_in_at": 1700000000000,
//!           "external_accounts": [{"provider": "oauth_google", "token": "ya29.x", "scopes": ["email"]}],
//!           "passkeys": [{"name": "YubiKey"}]
//!         }
//!       ],
//!       "organizations": [
//!         {
//!           "name": "Acme", "slug": "acme", "created_by": "user_seed1",
//!           "memberships": [{"user_id": "user_seed2", "role": "org:member"}],
//!           "invitations": [{"email_address": "bob@example.com", "role": "org:member"}]
//!         }
//!       ]
//!     }
//!   }
//! }
//! ```
//!
//! A user is a `POST /users` body plus optional `id` (`user_…`), `external_accounts`,
//! `passkeys`, `trusted_devices`, `billing_subscription` (the control API's bodies),
//! `last_sign_in_at`, `last_active_at`; an organization is a `POST /organizations`
//! body plus optional `id` (`org_…`), `memberships` and `invitations` (their POST bodies).
//! Without the `instances` wrapper, `{"users": [...], "organizations": [...]}` seeds the first
//! instance. Keys not given with `--secret-key` become extra instances. Any invalid entry stops
//! the start with an error naming it (`seed file F: sk_test_…users[600]: …`). The file is
//! parsed as it is read, one user at a time, so a seed of a million users never becomes a
//! JSON tree of a million users (organizations are applied after their instance's users,
//! wherever they stand in the object). A key given twice in one object is refused.
//!
//! # State file (`--state FILE`)
//!
//! Loaded at start if present (the seed is then ignored); written on graceful shutdown
//! atomically (temporary file in the same directory, fsync, rename). Instances are stored under
//! the SHA-256 of their key, so no secret key is written; instances in the file whose key is not
//! configured are kept as they are. It is read and written as a stream too: users are
//! deserialized straight into the instance's table (an error names the user), and each
//! instance is serialized straight into the file; fields it does not know are ignored. The file
//! is readable by its owner only (mode 0600: it holds TOTP secrets and password digests).

// Bottom to top: `op` (the operations), `model` and `store` (the records), `body` (decoded
// input), `domain` (the instance's rules), `render` (Clerk's JSON), `api` (HTTP handlers),
// `server`. `rate_limits`, `faults` and `stats` sit beside `api`; `persist` loads seed and state
// files through `domain`.
mod api;
mod app;
mod args;
mod body;
mod config;
mod connections;
mod domain;
mod error;
mod fault_spec;
mod faults;
mod ids;
mod model;
mod op;
pub mod passwords;
mod persist;
mod rate_limits;
mod render;
mod server;
mod stats;
mod store;
mod time;
pub mod totp;

pub use args::EmulatorArgs;
pub use config::{
    Config, ConfigError, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_SECRET_KEY, DEFAULT_SLOW_APPLY_DELAY, FaultKind, FaultSpec, Latency,
    MAX_RATE_LIMIT_WINDOW, MIN_RATE_LIMIT_WINDOW, RateLimit,
};
pub use server::Emulator;
pub use stats::{InstanceStats, Stats};

use std::io::Write as _;

/// Runs the emulator until Ctrl-C or SIGTERM, then shuts down gracefully (writing the state
/// file if configured). Prints `listening on http://ADDR` as the first stdout line.
pub async fn run_until_shutdown(config: Config) -> std::io::Result<()> {
    let emulator = Emulator::start(config).await?;
    // The handlers are installed before the address is announced: a supervisor that reads the
    // line and signals at once must get the graceful shutdown (state written), not the default
    // action of a signal nobody listens to yet.
    let shutdown = ShutdownSignal::install()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{}", emulator.addr())?;
        out.flush()?;
    }
    shutdown.recv().await;
    tracing::info!("shutting down");
    emulator.shutdown().await
}

/// Ctrl-C or SIGTERM, listened for from the moment it is installed.
struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
