//! A nightly sync whose source of truth is a database query: the rows are streamed
//! into `clerk_migrate::sync`, which reads the instance, plans (create, update only
//! what differs, ban the leavers) and applies the plan at the quota. The second run
//! finds nothing to write.
//!
//! Runs with no set-up against an emulator started in this process:
//!
//! ```text
//! cargo run --example sync_from_database
//! ```

use std::sync::Arc;
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_migrate::sync::{self, Missing, NoObserver, SourceRecord, SyncOptions};
use clerk_tower::Clerk;
use clerk_tower::users::CreateUser;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};

const KEY: &str = "sk_test_example_sync_db";

/// Stands in for `SELECT … FROM employees`: one row per employee, as a stream.
fn employees(night: u32) -> impl Stream<Item = Result<SourceRecord, std::io::Error>> {
    let rows: Vec<Value> = (0..40)
        // Employee 39 left after the first night.
        .filter(move |i| night == 1 || *i != 39)
        .map(|i| {
            // Since the second night, every tenth employee is in another team.
            let team = if night >= 2 && i % 10 == 0 {
                "platform"
            } else {
                "sales"
            };
            json!({
                "external_id": format!("emp-{i}"),
                "email_address": [format!("emp{i}@example.com")],
                "first_name": format!("Employee{i}"),
                "public_metadata": {"team": {"name": team, "office": "Lyon"}},
                "skip_password_requirement": true,
            })
        })
        .collect();
    futures_util::stream::iter(rows).map(|row| match row {
        Value::Object(body) => Ok(SourceRecord::new(body)),
        _ => Err(std::io::Error::other("a row that is not an object")),
    })
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), Value::to_string)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emu = Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Off)
            .latency(Duration::from_millis(1), Duration::from_millis(5)),
    )
    .await?;
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .build()?;
    // Someone created one account by hand; the database does not know it.
    clerk
        .users()
        .create(
            CreateUser::new()
                .external_id("contractor-1")
                .first_name("Temp"),
        )
        .await?;

    let options = SyncOptions::new().missing(Missing::Ban).max_bans(5);
    let checkpoint =
        std::env::temp_dir().join(format!("sync_from_database-{}.jsonl", std::process::id()));
    for night in 1..=3 {
        let plan = sync::plan(&clerk, employees(night), &options, &NoObserver).await?;
        println!(
            "night {night}: plan create {} · update {} · unchanged {} · ban {} ({} reads, by {})",
            plan.creates.len(),
            plan.updates.len(),
            plan.unchanged,
            plan.missing.len(),
            plan.state.requests,
            plan.state.strategy
        );
        // The plan's lists are read back from its scratch files, one entry at a time.
        if let Some(first) = plan.updates.iter().next().transpose()? {
            for change in &first.diff.changes {
                println!(
                    "  {}: {} {} → {}",
                    first.key,
                    change.field,
                    shown(change.before.as_ref()),
                    shown(change.after.as_ref())
                );
            }
        }
        let report = sync::apply(&clerk, plan, &options, &checkpoint, Arc::new(NoObserver)).await?;
        println!(
            "  applied: created {} · updated {} · banned {} · {} writes · {} failed",
            report.created,
            report.updated,
            report.banned,
            report.writes,
            report.failures.len()
        );
        if !report.failures.is_empty() {
            return Err(format!("night {night}: {:?}", report.failures).into());
        }
        if night == 3 && report.writes > 0 {
            return Err("an unchanged source was written again".into());
        }
    }
    emu.shutdown().await?;
    Ok(())
}
