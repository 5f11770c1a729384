//! Reconciliation lookups stay under the URL length proxies in front of Clerk
//! accept (8 KB), however long the lookup values are.

use std::sync::{Arc, Mutex};

use clerk_migrate::import::{self, Item, NoProgress, Options};
use clerk_migrate::journal;
use clerk_tower::{Body, Clerk, ClerkRequest, ClerkResponse, Error};
use serde_json::json;

#[tokio::test]
async fn lookups_of_long_external_ids_are_chunked_by_url_length() {
    let uris: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&uris);
    let transport = tower::service_fn(move |request: ClerkRequest| {
        let get = request.method() == http::Method::GET;
        seen.lock().unwrap().push(request.uri().to_string());
        async move {
            let body = if get {
                "[]".to_owned()
            } else {
                json!({"object": "user", "id": "user_1"}).to_string()
            };
            Ok::<ClerkResponse, Error>(http::Response::new(Body::from(body.into_bytes())))
        }
    });
    let clerk = Clerk::builder()
        .secret_key("sk_test_x")
        .base_url("http://127.0.0.1:1")
        .no_rate_limit()
        .transport(transport)
        .build()
        .unwrap();
    let items: Vec<Item> = (0..150)
        .map(|i| {
            let body = json!({"external_id": format!("{i:03}-{}", "é/x".repeat(100))});
            Item::new(i, i + 1, body.as_object().cloned().unwrap())
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("clerk-migrate-lookups-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (replay, writer) = journal::open(&dir.join("checkpoint.jsonl")).unwrap();
    let summary = import::run(
        &clerk,
        futures_util::stream::iter(items.into_iter().map(Ok)),
        &replay,
        Arc::new(writer),
        Options::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(summary.created, 150);
    let uris = uris.lock().unwrap();
    let lists: Vec<&String> = uris.iter().filter(|u| u.contains("external_id=")).collect();
    assert!(
        lists.len() > 2,
        "150 long ids need more than two lookups: {}",
        lists.len()
    );
    let longest = lists.iter().map(|u| u.len()).max().unwrap();
    assert!(longest <= 8 * 1024, "a lookup URL of {longest} bytes");
    let _ = std::fs::remove_dir_all(&dir);
}
