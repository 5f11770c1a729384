//! A short tour: create a user, read it back, merge metadata, walk every user.
//!
//! ```text
//! cargo run --example quickstart            # against the embedded emulator
//! CLERK_SECRET_KEY=sk_test_… cargo run --example quickstart   # against Clerk
//! ```

use clerk_emulator::{Config, Emulator};
use clerk_tower::Clerk;
use clerk_tower::users::{CountUsers, CreateUser, ListUsers, UpdateUserMetadata, UserFilter};
use futures_util::TryStreamExt;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Without a key in the environment, run against a local emulator.
    let emulator = match std::env::var_os("CLERK_SECRET_KEY") {
        Some(_) => None,
        None => Some(Emulator::start(Config::new()).await?),
    };
    let mut builder = Clerk::builder();
    if let Some(emulator) = &emulator {
        builder = builder
            .base_url(emulator.base_url())
            .secret_key(clerk_emulator::DEFAULT_SECRET_KEY);
    }
    // The quota comes from the key: sk_test_ → 100 requests / 10 s, sk_live_ → 1000 / 10 s.
    let clerk = builder.build()?;
    let users = clerk.users();

    let ada = users
        .create(
            CreateUser::new()
                .external_id("quickstart-ada")
                .first_name("Ada")
                .email_address("ada.quickstart@example.com"),
        )
        .await?;
    println!("created {} ({:?})", ada.id, ada.primary_email_address_id);

    let mut patch = serde_json::Map::new();
    patch.insert(
        "onboarding".into(),
        json!({"step": 2, "source": "quickstart"}),
    );
    let ada = users
        .update_metadata(UpdateUserMetadata::new(&ada.id).public_metadata(patch))
        .await?;
    println!(
        "public metadata now {}",
        serde_json::Value::Object(ada.public_metadata.clone())
    );

    match users.get("user_does_not_exist").await {
        Err(err) if err.is_not_found() => {
            println!("missing users are errors you can ask about: {err}")
        }
        other => println!("unexpected: {other:?}"),
    }

    let filter = UserFilter::new().external_id("quickstart-ada");
    let total = users
        .count(CountUsers::new().filter(filter.clone()))
        .await?;
    let walked: Vec<_> = users
        .list_all(ListUsers::new().filter(filter).limit(100))
        .try_collect()
        .await?;
    println!("{total} matching user(s), {} walked", walked.len());

    users.delete(&ada.id).await?;
    let metrics = clerk.metrics();
    println!(
        "{} calls, {} attempts, {} retries, {} × 429",
        metrics.calls, metrics.attempts, metrics.retries, metrics.rate_limited
    );
    if let Some(emulator) = emulator {
        emulator.shutdown().await?;
    }
    Ok::<(), Box<dyn std::error::Error>>(())
}
