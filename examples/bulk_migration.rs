//! The library-level import loop behind `clerk-users import`, in one file: a
//! rate-limited client shared by a bounded pool of creates, a durable checkpoint,
//! and reconciliation of every ambiguous create, so a crash and a rerun give each
//! record exactly one user.
//!
//! Runs with no set-up against an emulator started in this process, which loses
//! responses and answers 5xx on purpose:
//!
//! ```text
//! cargo run --example bulk_migration
//! ```

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::layers::rate_limit::Quota;
use clerk_tower::users::{CreateUser, ListUsers, UserFilter};
use clerk_tower::{Clerk, Error};
use futures_util::{StreamExt, TryStreamExt, stream};

const KEY: &str = "sk_live_example_migration";
const USERS: usize = 300;

/// Appends one line per finished record and fsyncs it before the record counts.
fn checkpoint(path: &Path, external_id: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(format!("{external_id}\n").as_bytes())?;
    file.sync_data()
}

fn done_ids(path: &Path) -> HashSet<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Is there a user with this external id? (The question to ask before resending.)
async fn exists(clerk: &Clerk, external_id: &str) -> Result<bool, Error> {
    let found = clerk
        .users()
        .list(
            ListUsers::new()
                .filter(UserFilter::new().external_id(external_id))
                .limit(1),
        )
        .await?;
    Ok(!found.is_empty())
}

/// Creates one user; after a failure that may have created it, looks before resending.
async fn create_once(clerk: &Clerk, i: usize) -> Result<&'static str, Error> {
    let external_id = format!("legacy-{i}");
    for _ in 0..8 {
        let body = CreateUser::new()
            .external_id(external_id.clone())
            .email_address(format!("user{i}@example.com"))
            .first_name(format!("User {i}"))
            .skip_password_requirement(true);
        match clerk.users().create(body).await {
            Ok(_) => return Ok("created"),
            Err(err) if err.is_outcome_unknown() || err.has_code("form_identifier_exists") => {
                // The create may have happened (lost response, 5xx after sending): check.
                if exists(clerk, &external_id).await? {
                    return Ok("already present");
                }
            }
            Err(err) => return Err(err),
        }
    }
    Err(Error::invalid_request("gave up after 8 creates"))
}

/// One run over the records not in the checkpoint; stops after `limit` of them (a "crash").
async fn run(
    clerk: &Clerk,
    path: &Path,
    limit: usize,
) -> Result<HashMap<&'static str, usize>, Error> {
    let done = done_ids(path);
    let todo: Vec<usize> = (0..USERS)
        .filter(|i| !done.contains(&format!("legacy-{i}")))
        .take(limit)
        .collect();
    if !done.is_empty() {
        // A rerun: records in flight when the last run died may exist already.
        // One list call per 100 external ids finds them.
        let mut found = HashSet::new();
        for chunk in todo.chunks(100) {
            let filter =
                UserFilter::new().external_ids(chunk.iter().map(|i| format!("legacy-{i}")));
            for user in clerk
                .users()
                .list(ListUsers::new().filter(filter).limit(500))
                .await?
            {
                found.extend(user.external_id);
            }
        }
        println!(
            "  rerun: {} done per the checkpoint, {} found by reconciliation",
            done.len(),
            found.len()
        );
        for id in &found {
            checkpoint(path, id).map_err(|e| Error::invalid_request(e.to_string()))?;
        }
    }
    let done = done_ids(path);
    let mut outcomes = HashMap::new();
    // A bounded pool: at most 16 creates in flight, all paced by the one limiter.
    let mut results = stream::iter(
        todo.into_iter()
            .filter(|i| !done.contains(&format!("legacy-{i}"))),
    )
    .map(|i| async move { (i, create_once(clerk, i).await) })
    .buffer_unordered(16);
    while let Some((i, result)) = results.next().await {
        let outcome = result?;
        checkpoint(path, &format!("legacy-{i}"))
            .map_err(|e| Error::invalid_request(e.to_string()))?;
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    Ok(outcomes)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emu = Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Fixed {
                requests: 200,
                window: Duration::from_secs(1),
            })
            .faults("lost_response=0.03,5xx=0.03".parse()?)
            .latency(Duration::from_millis(5), Duration::from_millis(20)),
    )
    .await?;
    println!(
        "emulator at {} (200 requests/s, 3 % lost responses, 3 % 5xx)",
        emu.base_url()
    );
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .quota(Quota::new(200, Duration::from_secs(1))?)
        .build()?;

    let path =
        std::env::temp_dir().join(format!("bulk_migration-{}.checkpoint", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let started = Instant::now();
    println!("run 1: imports 120 of {USERS} records, then stops as if killed");
    println!("  {:?}", run(&clerk, &path, 120).await?);
    println!("run 2: same checkpoint, to the end");
    println!("  {:?}", run(&clerk, &path, USERS).await?);

    let mut per_id: HashMap<String, usize> = HashMap::new();
    let mut users = std::pin::pin!(clerk.users().list_all(ListUsers::new().limit(500)));
    while let Some(user) = users.try_next().await? {
        *per_id
            .entry(user.external_id.unwrap_or_default())
            .or_insert(0) += 1;
    }
    let lost = (0..USERS)
        .filter(|i| !per_id.contains_key(&format!("legacy-{i}")))
        .count();
    let duplicated = per_id.values().filter(|n| **n > 1).count();
    let m = clerk.metrics();
    println!(
        "verified: {} users, lost {lost}, duplicated {duplicated}; {} requests, {} retries, {} 429s in {:.1} s",
        per_id.len(),
        m.attempts,
        m.retries,
        m.rate_limited,
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_file(&path);
    emu.shutdown().await?;
    if lost + duplicated > 0 {
        return Err("a record was lost or duplicated".into());
    }
    Ok(())
}
