//! A sync job: walk every user with `list_all` and write a sync marker into each
//! one's metadata, under both Clerk limits — the instance quota and the 10 updates
//! per 10 s per user on metadata — without drawing a single 429.
//!
//! Runs with no set-up against an emulator started in this process:
//!
//! ```text
//! cargo run --example sync_job
//! ```

use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::layers::rate_limit::Quota;
use clerk_tower::users::{CreateUser, ListUsers, UpdateUserMetadata};
use futures_util::TryStreamExt;
use serde_json::json;

const KEY: &str = "sk_test_example_sync";

fn metadata(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The emulator enforces 300 requests per second per instance and Clerk's
    // 10 per 10 s per user on metadata updates.
    let quota = Quota::new(300, Duration::from_secs(1))?;
    let emu = Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Fixed {
                requests: 300,
                window: Duration::from_secs(1),
            })
            .latency(Duration::from_millis(2), Duration::from_millis(10)),
    )
    .await?;
    println!("emulator at {}", emu.base_url());
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .quota(quota)
        .build()?;

    for i in 0..150 {
        clerk
            .users()
            .create(
                CreateUser::new()
                    .external_id(format!("crm-{i}"))
                    .email_address(format!("crm{i}@example.com")),
            )
            .await?;
    }
    println!("seeded 150 users");

    // Walk every user (pages of 500, cursor paging) and update 16 at a time.
    let started = Instant::now();
    let synced_at = 1_700_000_000_000_i64;
    let updated: usize = clerk
        .users()
        .list_all(ListUsers::new().limit(500))
        .map_ok(|user| {
            let clerk = clerk.clone();
            async move {
                let patch = metadata(json!({"crm": {"synced_at": synced_at, "tier": "gold"}}));
                clerk
                    .users()
                    .update_metadata(UpdateUserMetadata::new(user.id).private_metadata(patch))
                    .await
            }
        })
        .try_buffer_unordered(16)
        .try_fold(0, |n, _| async move { Ok(n + 1) })
        .await?;
    println!(
        "synced {updated} users in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    // A hot user updated repeatedly: the per-user limit makes the later updates wait
    // (about one per second) instead of drawing 429s.
    let hot = clerk
        .users()
        .list(ListUsers::new().limit(1))
        .await?
        .remove(0);
    let started = Instant::now();
    for n in 0..3 {
        let patch = metadata(json!({"crm": {"touches": n}}));
        clerk
            .users()
            .update_metadata(UpdateUserMetadata::new(hot.id.clone()).private_metadata(patch))
            .await?;
        println!(
            "  update {} of {} after {:.2} s",
            n + 1,
            hot.id,
            started.elapsed().as_secs_f64()
        );
    }
    let user = clerk.users().get(hot.id.clone()).await?;
    println!(
        "merged metadata of {}: {}",
        user.id,
        serde_json::Value::Object(user.private_metadata)
    );

    let m = clerk.metrics();
    let stats = emu.stats();
    println!(
        "{} requests, {} 429s from the client's view, {} 429s sent by the emulator",
        m.attempts, m.rate_limited, stats.rate_limited
    );
    emu.shutdown().await?;
    if m.rate_limited > 0 {
        return Err("the job drew 429s".into());
    }
    Ok(())
}
