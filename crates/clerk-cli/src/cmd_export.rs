//! `clerk-users export` and `clerk-users count`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use clerk_core::User;
use clerk_tower::Clerk;
use clerk_tower::users::{UserOrderBy, rfc3339_from_unix_ms};
use futures_util::TryStreamExt;
use serde_json::{Map, Value, json};

use crate::args::{ConnectArgs, FilterArgs, OutputArgs};
use crate::progress::{self, Progress};
use crate::report::{human, thousands};
use crate::terminal::{self, say, tell};
use crate::{CliError, CliResult};

/// What each exported line holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Shape {
    /// The user as the API returns it.
    User,
    /// A `CreateUser` body (ids, names, metadata, creation time; no password),
    /// which `import` accepts: copies users to another instance.
    Create,
}

/// Stream every matching user as JSON Lines.
#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Line shape.
    #[arg(long = "as", value_enum, default_value_t = Shape::User)]
    pub(crate) shape: Shape,
    /// Order (`-created_at` by default; ordering by created_at pages with a cursor,
    /// which stays correct while users are created or deleted).
    #[arg(long, value_name = "[+|-]FIELD", allow_hyphen_values = true, value_parser = parse_order)]
    pub(crate) order_by: Option<UserOrderBy>,
    /// Users per page (1 to 500). A page the response-body cap refuses is asked for
    /// again in halves, down to one user.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub(crate) page_size: u32,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

fn parse_order(s: &str) -> Result<UserOrderBy, String> {
    s.parse::<UserOrderBy>().map_err(|e| e.to_string())
}

/// Count the users matching the filters.
#[derive(Args, Debug)]
pub(crate) struct CountArgs {
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// A user as a create body, for copying it to another instance.
pub(crate) fn as_create(user: &User) -> Map<String, Value> {
    let mut body = Map::new();
    let mut put = |k: &str, v: Value| {
        body.insert(k.to_owned(), v);
    };
    for (k, v) in [
        ("external_id", &user.external_id),
        ("first_name", &user.first_name),
        ("last_name", &user.last_name),
        ("username", &user.username),
        ("locale", &user.locale),
    ] {
        if let Some(v) = v {
            put(k, json!(v));
        }
    }
    // The primary identifier goes first: Clerk makes the first one primary.
    let primary_first = |mut items: Vec<(String, bool)>| -> Vec<String> {
        items.sort_by_key(|(_, primary)| !primary);
        items.into_iter().map(|(v, _)| v).collect()
    };
    let emails = primary_first(
        user.email_addresses
            .iter()
            .map(|e| {
                (
                    e.email_address.clone(),
                    user.primary_email_address_id.as_deref() == Some(e.id.as_str()),
                )
            })
            .collect(),
    );
    let phones = primary_first(
        user.phone_numbers
            .iter()
            .map(|p| {
                (
                    p.phone_number.clone(),
                    user.primary_phone_number_id.as_deref() == Some(p.id.as_str()),
                )
            })
            .collect(),
    );
    let wallets: Vec<String> = user
        .web3_wallets
        .iter()
        .map(|w| w.web3_wallet.clone())
        .collect();
    for (k, v) in [
        ("email_address", emails),
        ("phone_number", phones),
        ("web3_wallet", wallets),
    ] {
        if !v.is_empty() {
            put(k, json!(v));
        }
    }
    for (k, v) in [
        ("public_metadata", &user.public_metadata),
        ("private_metadata", &user.private_metadata),
        ("unsafe_metadata", &user.unsafe_metadata),
    ] {
        if !v.is_empty() {
            put(k, Value::Object(v.clone()));
        }
    }
    if user.created_at > 0 {
        put("created_at", json!(rfc3339_from_unix_ms(user.created_at)));
    }
    if let Some(at) = user.legal_accepted_at {
        put("legal_accepted_at", json!(rfc3339_from_unix_ms(at)));
    }
    // Passwords never leave Clerk: the copy signs in another way or resets it.
    put("skip_password_requirement", json!(true));
    if user.banned {
        put("banned", json!(true));
    }
    body
}

/// Streams every user of `request` into `out`, one JSON line each; returns the count.
/// Memory stays flat: one page of at most `page_size` users is held at a time. A
/// page refused for its size (above `--max-response-body`) is asked for again with
/// half as many users, from the last user written, so nothing is lost or repeated.
pub(crate) async fn export_to<W: Write>(
    clerk: &Clerk,
    filters: &FilterArgs,
    order_by: Option<UserOrderBy>,
    shape: Shape,
    page_size: u32,
    out: &mut W,
    progress: &Progress,
) -> CliResult<u64> {
    let first = filters.list(order_by);
    let by_cursor = first.uses_created_at_order();
    let mut page_size = page_size;
    let mut last_id: Option<String> = None;
    let mut n = 0u64;
    let write_err = |e: std::io::Error| CliError::failure(format!("writing the export: {e}"));
    loop {
        // Resume after the last user written: by cursor when the order allows it.
        let list = match &last_id {
            Some(id) if by_cursor => first.clone().starting_after(id.clone()),
            Some(_) => first.clone().offset(n),
            None => first.clone(),
        };
        let users = clerk.users().list_all(list.limit(page_size));
        let mut users = std::pin::pin!(users);
        loop {
            let user = match users.try_next().await {
                Ok(Some(user)) => user,
                Ok(None) => {
                    out.flush().map_err(write_err)?;
                    return Ok(n);
                }
                Err(e) if e.is_body_too_large() && page_size > 1 => {
                    page_size = page_size.div_ceil(2);
                    tracing::warn!(
                        page_size,
                        "a page was over the response-body cap; asking for smaller pages"
                    );
                    break;
                }
                Err(e) if e.is_body_too_large() => {
                    return Err(CliError::failure(format!(
                        "listing users: one user is larger than the response-body cap; raise --max-response-body ({e})"
                    )));
                }
                Err(e) => return Err(CliError::failure(format!("listing users: {e}"))),
            };
            match shape {
                Shape::User => terminal::write_json(&mut *out, &user),
                Shape::Create => terminal::write_json(&mut *out, &as_create(&user)),
            }
            .map_err(write_err)?;
            n += 1;
            last_id = Some(user.id);
            progress.inc(1);
        }
    }
}

pub(crate) async fn run_export(args: ExportArgs) -> CliResult<()> {
    let clerk = args.connect.client().map_err(CliError::usage)?;
    let started = Instant::now();
    let show = progress::wanted(args.output.json) && args.out.is_some();
    // The total is only worth a request when someone watches the bar.
    let total = if show {
        clerk
            .users()
            .count(args.filters.count())
            .await
            .ok()
            .map(|n| n.max(0) as u64)
    } else {
        None
    };
    let progress = Progress::new(show, total, &clerk, args.connect.quota_rps());
    let n = match &args.out {
        Some(path) => {
            let file = clerk_migrate::files::create_private(path)
                .map_err(|e| CliError::usage(format!("cannot create {}: {e}", path.display())))?;
            let mut out = BufWriter::with_capacity(256 * 1024, file);
            export_to(
                &clerk,
                &args.filters,
                args.order_by,
                args.shape,
                args.page_size,
                &mut out,
                &progress,
            )
            .await?
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
            export_to(
                &clerk,
                &args.filters,
                args.order_by,
                args.shape,
                args.page_size,
                &mut out,
                &progress,
            )
            .await?
        }
    };
    progress.finish();
    let m = clerk.metrics();
    let wall = started.elapsed();
    let summary = json!({"exported": n, "requests": m.attempts, "retries": m.retries, "http_429": m.rate_limited,
                         "wall_s": wall.as_secs_f64(), "out": args.out.as_ref().map(|p| p.display().to_string())});
    // With no --out, stdout is the data: the summary goes to stderr.
    let text = if args.output.json {
        summary.to_string()
    } else {
        format!(
            "exported {} users in {} ({} requests, {} retries, {} 429s)",
            thousands(n),
            human(wall),
            thousands(m.attempts),
            thousands(m.retries),
            thousands(m.rate_limited)
        )
    };
    if args.out.is_some() {
        say!("{text}");
    } else {
        tell!("{text}");
    }
    Ok(())
}

pub(crate) async fn run_count(args: CountArgs) -> CliResult<()> {
    let clerk = args.connect.client().map_err(CliError::usage)?;
    let n = clerk
        .users()
        .count(args.filters.count())
        .await
        .map_err(|e| CliError::failure(format!("count failed: {e}")))?;
    if args.output.json {
        say!("{}", json!({"total_count": n}));
    } else {
        say!("{n}");
    }
    Ok(())
}
