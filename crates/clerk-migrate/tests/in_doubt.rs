//! Records a killed run left in flight went through an ambiguous path: the rerun verifies
//! them at the end like the ambiguous creates of its own, whatever its first lookup found,
//! and also when their resend fails ambiguously again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_migrate::import::{self, Item, NoProgress, Options};
use clerk_migrate::journal::{self, Entry, Outcome};
use clerk_tower::transport::Transport;
use clerk_tower::users::{CreateUser, ListUsers};
use clerk_tower::{Clerk, ClerkRequest, Error};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const KEY: &str = "sk_test_in_doubt";

fn record(external_id: &str) -> Value {
    json!({"external_id": external_id, "skip_password_requirement": true})
}

async fn holders(clerk: &Clerk, external_id: &str) -> usize {
    clerk
        .users()
        .list(ListUsers::new().external_id(external_id))
        .await
        .expect("list")
        .len()
}

#[tokio::test]
async fn records_a_killed_run_left_in_flight_are_verified_at_the_end() {
    let emu = Emulator::start(Config::new().secret_key(KEY).rate_limit(RateLimit::Off))
        .await
        .expect("emulator starts");
    let direct = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .build()
        .expect("client");
    // When the killed run sent its creates: before its users were created (a user
    // created earlier could not be one of its creates, and --repair would leave it).
    let killed_run_sent = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // The killed run's create of `twice` landed twice (an earlier resend, then the late
    // first attempt); its create of `lost` never landed.
    for _ in 0..2 {
        let body: CreateUser = serde_json::from_value(record("twice")).unwrap();
        direct.users().create(body).await.expect("seed");
    }

    // This run's first create (of `lost`) is applied, and its answer lost.
    let inner = Transport::new().expect("transport");
    let lost_once = Arc::new(AtomicBool::new(false));
    let transport = tower::service_fn(move |request: ClerkRequest| {
        let inner = inner.clone();
        let lose =
            request.method() == http::Method::POST && !lost_once.swap(true, Ordering::SeqCst);
        async move {
            let response = inner.oneshot(request).await?;
            if lose {
                return Err(Error::timeout(Duration::from_secs(1)));
            }
            Ok(response)
        }
    });
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .transport(transport)
        .build()
        .expect("client");

    let items: Vec<Item> = ["twice", "lost"]
        .iter()
        .enumerate()
        .map(|(i, id)| Item::new(i, i + 1, record(id).as_object().cloned().unwrap()))
        .collect();
    let dir = std::env::temp_dir().join(format!("clerk-migrate-in-doubt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let checkpoint = dir.join("checkpoint.jsonl");
    {
        let (_, writer) = journal::open(&checkpoint).unwrap();
        for item in &items {
            let sent = Entry {
                at: Some(killed_run_sent),
                ..Entry::new(item.key.clone(), Outcome::Sent)
            };
            writer.append(sent).await.unwrap();
        }
    }

    let (replay, writer) = journal::open(&checkpoint).unwrap();
    let options = Options {
        settle_delay: Duration::from_millis(200),
        repair: true,
        ..Options::default()
    };
    let summary = import::run(
        &clerk,
        futures_util::stream::iter(items.into_iter().map(Ok)),
        &replay,
        Arc::new(writer),
        options,
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(summary.verified, 2, "{summary:?}");
    assert_eq!(summary.duplicates.len(), 1, "{summary:?}");
    assert_eq!(summary.duplicates[0].key, "x:twice");
    assert!(summary.duplicates[0].deleted, "{summary:?}");
    assert_eq!(holders(&direct, "twice").await, 1);
    assert_eq!(holders(&direct, "lost").await, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
