//! The sync engine driven by a `Stream` of records (as a job whose source is a
//! database query would), against the emulator on 127.0.0.1: a small source in a
//! large instance is read by key lookups, not a full export, and costs exactly its
//! reads plus the changed records' writes.

use std::sync::Arc;

use clerk_emulator::{Config, Emulator, RateLimit, Stats};
use clerk_migrate::sync::{
    self, MatchKey, Missing, NoObserver, ReadStrategy, SourceRecord, SyncOptions,
};
use clerk_tower::Clerk;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};

const KEY: &str = "sk_test_sync_stream";
const INSTANCE: usize = 1200;

fn row(i: usize) -> Map<String, Value> {
    match json!({
        "external_id": format!("db-{i}"),
        "email_address": [format!("Row{i}@Example.com")],
        "first_name": format!("Row{i}"),
        "public_metadata": {"team": {"id": i % 7, "role": "member"}},
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// An emulator without a rate limit holding `users` rows (`row(0..users)`), seeded from
/// a file named after `name`.
async fn seeded(name: &str, users: usize) -> Emulator {
    let seed = std::env::temp_dir().join(format!("sync-stream-{name}-{}.json", std::process::id()));
    let rows: Vec<Value> = (0..users).map(|i| Value::Object(row(i))).collect();
    std::fs::write(&seed, json!({ "users": rows }).to_string()).unwrap();
    let emu = Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Off)
            .seed_file(&seed),
    )
    .await
    .unwrap();
    let _ = std::fs::remove_file(&seed);
    emu
}

/// A client of `emu` without a rate limit.
fn client(emu: &Emulator) -> Clerk {
    Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .build()
        .unwrap()
}

fn writes(stats: &Stats) -> u64 {
    stats
        .requests_per_operation
        .iter()
        .filter(|(op, _)| !matches!(op.as_str(), "GetUserList" | "GetUsersCount" | "GetUser"))
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn a_small_source_is_read_by_lookups_and_costs_its_changes_only() {
    let emu = seeded("lookups", INSTANCE).await;
    let clerk = client(&emu);

    // "SELECT … FROM users WHERE team = 3": 170-odd rows, a few changed, two new.
    let query = || {
        let rows: Vec<Map<String, Value>> = (0..INSTANCE + 2)
            .filter(|i| i % 7 == 3)
            .map(|i| {
                let mut r = row(i);
                if i % 5 == 0 {
                    r["public_metadata"] = json!({"team": {"id": 3, "role": "lead"}});
                }
                r
            })
            .collect();
        futures_util::stream::iter(rows).map(|r| Ok::<_, std::io::Error>(SourceRecord::new(r)))
    };
    let records = (0..INSTANCE + 2).filter(|i| i % 7 == 3).count();
    let changed = (0..INSTANCE).filter(|i| i % 7 == 3 && i % 5 == 0).count();
    let new = (INSTANCE..INSTANCE + 2).filter(|i| i % 7 == 3).count();
    let options = SyncOptions::new().key(MatchKey::Email);

    let plan = sync::plan(&clerk, query(), &options, &NoObserver)
        .await
        .unwrap();
    assert_eq!(
        plan.state.strategy,
        ReadStrategy::Lookups,
        "{:?}",
        plan.state
    );
    let lookups = records.div_ceil(sync::LOOKUP_BATCH) as u64;
    assert_eq!(
        plan.state.requests,
        1 + lookups,
        "a count, then the lookups"
    );
    assert_eq!(
        plan.state.estimate,
        Some(((INSTANCE / 500 + 1) as u64, lookups))
    );
    assert_eq!(plan.creates.len(), new);
    assert_eq!(plan.updates.len(), changed);
    assert_eq!(plan.unchanged, records - changed - new);
    // Only the changed key, nested: {"team": {"role": "lead"}}.
    let first = plan.updates.first(1).unwrap();
    let merge = first[0].diff.metadata.as_ref().unwrap();
    assert_eq!(
        merge
            .public_metadata
            .as_ref()
            .map(|m| Value::Object(m.clone())),
        Some(json!({"team": {"role": "lead"}}))
    );

    let checkpoint = std::env::temp_dir().join(format!("sync-stream-{}.ckpt", std::process::id()));
    // One a failed run of an earlier process with this id left would be resumed.
    let _ = std::fs::remove_file(&checkpoint);
    let before = emu.stats();
    let report = sync::apply(&clerk, plan, &options, &checkpoint, Arc::new(NoObserver))
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.created, new);
    assert_eq!(report.updated, changed);
    assert_eq!(
        writes(&emu.stats()) - writes(&before),
        (new + changed) as u64
    );
    assert_eq!(report.writes, (new + changed) as u64);
    assert!(
        !checkpoint.exists(),
        "the checkpoint of a finished run is removed"
    );

    let again = sync::plan(&clerk, query(), &options, &NoObserver)
        .await
        .unwrap();
    assert_eq!(again.writes(), 0, "{again:?}");
    assert_eq!(again.unchanged, records);

    // A source that fails midway plans nothing.
    let failing = futures_util::stream::iter(vec![
        Ok(SourceRecord::new(row(1))),
        Err(std::io::Error::other("connection to the database lost")),
    ]);
    let err = sync::plan(&clerk, failing, &options, &NoObserver)
        .await
        .unwrap_err();
    assert!(
        err.is_source() && err.to_string().contains("database lost"),
        "{err}"
    );
    emu.shutdown().await.unwrap();
}

/// Three shards matching by email, where a record's key is its user's *second*
/// address: whichever shard the user's primary address (or id) falls in, no shard
/// deletes it, and together the plans act on each record and each leaver once.
#[tokio::test]
async fn shards_matching_by_email_split_the_work_and_delete_only_leavers() {
    use clerk_migrate::shard::Shard;
    use clerk_migrate::sync::Missing;
    use clerk_tower::users::{CreateUser, ListUsers};
    use futures_util::TryStreamExt;

    let emu = Emulator::start(Config::new().secret_key(KEY).rate_limit(RateLimit::Off))
        .await
        .unwrap();
    let clerk = client(&emu);
    let mut leavers = Vec::new();
    for i in 0..30 {
        let create: CreateUser = serde_json::from_value(json!({
            "email_address": [format!("p{i}@example.com"), format!("s{i}@example.com")],
            "first_name": format!("Row{i}"),
            "skip_password_requirement": true,
        }))
        .unwrap();
        let user = clerk.users().create(create).await.unwrap();
        if i >= 20 {
            leavers.push(user.id);
        }
    }
    let source = || {
        let rows: Vec<Map<String, Value>> = (0..20)
            .map(|i| {
                json!({"email_address": [format!("S{i}@Example.com")], "first_name":
                    if i % 2 == 0 { format!("Renamed{i}") } else { format!("Row{i}") }})
            })
            .chain((0..4).map(|j| json!({"email_address": [format!("n{j}@example.com")]})))
            .map(|v| v.as_object().cloned().unwrap())
            .collect();
        futures_util::stream::iter(rows).map(|r| Ok::<_, std::io::Error>(SourceRecord::new(r)))
    };
    let shards: Vec<Shard> = (1..=3).map(|k| Shard::new(k, 3).unwrap()).collect();
    // The case a shard-by-the-user's-own-key rule gets wrong is there.
    let crossing = (0..20)
        .filter(|i| {
            let (p, s) = (format!("p{i}@example.com"), format!("s{i}@example.com"));
            shards.iter().any(|k| k.contains(&p) != k.contains(&s))
        })
        .count();
    assert!(crossing > 0);

    let options = |k: Shard| {
        SyncOptions::new()
            .key(MatchKey::Email)
            .missing(Missing::Delete)
            .max_deletes(10)
            .shard(k)
    };
    let mut plans = Vec::new();
    for &k in &shards {
        plans.push(
            sync::plan(&clerk, source(), &options(k), &NoObserver)
                .await
                .unwrap(),
        );
    }
    let mut deleted: Vec<String> = plans
        .iter()
        .flat_map(|p| p.missing.iter().map(|m| m.unwrap().user_id))
        .collect();
    deleted.sort();
    leavers.sort();
    assert_eq!(deleted, leavers, "each leaver once, and no one else");
    let mut updated: Vec<String> = plans
        .iter()
        .flat_map(|p| p.updates.iter().map(|u| u.unwrap().user_id))
        .collect();
    updated.sort_unstable();
    updated.dedup();
    assert_eq!(updated.len(), 10);
    assert_eq!(plans.iter().map(|p| p.unchanged).sum::<usize>(), 10);
    assert_eq!(plans.iter().map(|p| p.creates.len()).sum::<usize>(), 4);
    assert_eq!(plans.iter().map(|p| p.records).sum::<usize>(), 24);
    for p in &plans {
        assert_eq!(p.missing_all_shards, 10);
        assert_eq!(p.records + p.records_in_other_shards, 24);
        assert!(p.conflicts.is_empty(), "{:?}", p.conflicts);
        assert!(p.check_limits(&options(p.shard)).is_ok());
        // 10 leavers in all shards: a limit of 9 refuses in every shard.
        assert!(
            p.check_limits(&options(p.shard).max_deletes(9))
                .unwrap_err()
                .is_refused()
        );
    }

    for (plan, &k) in plans.into_iter().zip(&shards) {
        let checkpoint = std::env::temp_dir().join(format!(
            "sync-stream-{}-shard-{}.ckpt",
            std::process::id(),
            k.index()
        ));
        let _ = std::fs::remove_file(&checkpoint);
        let report = sync::apply(&clerk, plan, &options(k), &checkpoint, Arc::new(NoObserver))
            .await
            .unwrap();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
    }
    let users: Vec<clerk_core::User> = clerk
        .users()
        .list_all(ListUsers::new().limit(500))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.len(), 24);
    assert!(users.iter().all(|u| !leavers.contains(&u.id)));
    for &k in &shards {
        let again = sync::plan(&clerk, source(), &options(k), &NoObserver)
            .await
            .unwrap();
        assert_eq!(again.writes(), 0, "{again:?}");
    }
    emu.shutdown().await.unwrap();
}

/// The default limit's floor of 10 let an empty source (a failed dump) delete every user
/// of a small instance: an empty source acts on missing users only with an explicit limit.
#[tokio::test]
async fn an_empty_source_does_not_wipe_a_small_instance_under_the_default_limit() {
    let emu = Emulator::start(Config::new().secret_key(KEY).rate_limit(RateLimit::Off))
        .await
        .unwrap();
    let clerk = client(&emu);
    for i in 0..3 {
        let body = serde_json::from_value(Value::Object(row(i))).unwrap();
        clerk.users().create(body).await.unwrap();
    }
    let empty = || futures_util::stream::iter(Vec::<Result<SourceRecord, std::io::Error>>::new());
    let checkpoint = std::env::temp_dir().join(format!("sync-empty-{}.jsonl", std::process::id()));
    for missing in [Missing::Delete, Missing::Ban] {
        let options = SyncOptions::new().missing(missing);
        let plan = sync::plan(&clerk, empty(), &options, &NoObserver)
            .await
            .unwrap();
        assert_eq!(plan.missing.len(), 3);
        let err = sync::apply(&clerk, plan, &options, &checkpoint, Arc::new(NoObserver))
            .await
            .expect_err("an empty source is refused");
        assert!(err.is_refused(), "{err}");
        assert!(err.to_string().contains("no records"), "{err}");
    }
    assert_eq!(writes(&emu.stats()), 3, "only the three seeding creates");

    // Given explicitly, the limit is the caller's word.
    let options = SyncOptions::new().missing(Missing::Delete).max_deletes(3);
    let plan = sync::plan(&clerk, empty(), &options, &NoObserver)
        .await
        .unwrap();
    let report = sync::apply(&clerk, plan, &options, &checkpoint, Arc::new(NoObserver))
        .await
        .unwrap();
    assert_eq!(report.deleted, 3);
}

/// Shard 1 of 2 reads the instance page by page while shard 2 deletes its own
/// leavers. Between shard 1's first and second page, a hook in shard 1's client
/// deletes (through another client, as shard 2 would) every user of the first page
/// that is a leaver of shard 2. Paged by offset, the next page would then start
/// that many users too far, and shard 1's leavers there would be missed by every
/// shard (shard 2 leaves them to shard 1). The export follows the `created_at`
/// cursor, so each of shard 1's leavers is found.
#[tokio::test]
async fn a_delete_between_export_pages_hides_no_leaver() {
    use std::collections::{HashMap, HashSet};

    use clerk_migrate::shard::Shard;
    use clerk_migrate::sync::Missing;
    use clerk_tower::users::ListUsers;
    use clerk_tower::{ClerkResponse, ClerkService};
    use futures_util::TryStreamExt;
    use tower::ServiceExt;
    use tower::util::BoxCloneSyncService;

    /// What the hook saw and did.
    #[derive(Default)]
    struct Hook {
        pages: usize,
        first_page: Vec<String>,
        deleted: usize,
    }

    // Three pages of 500.
    const USERS: usize = 1100;
    let emu = seeded("race", USERS).await;
    let other = client(&emu);
    let ids: HashMap<String, String> = other
        .users()
        .list_all(ListUsers::new().limit(500))
        .map_ok(|u| (u.id, u.external_id.unwrap_or_default()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids.len(), USERS);
    // The source keeps the even rows ("db-0", "db-2", …): the odd ones are leavers.
    let leavers: HashSet<String> = ids
        .iter()
        .filter(|(_, ext)| ext[3..].parse::<usize>().is_ok_and(|i| i % 2 == 1))
        .map(|(id, _)| id.clone())
        .collect();
    let (mine, theirs) = (Shard::new(1, 2).unwrap(), Shard::new(2, 2).unwrap());
    let mut expected: Vec<String> = leavers
        .iter()
        .filter(|id| mine.contains(id))
        .cloned()
        .collect();
    expected.sort();

    let hook = Arc::new(tokio::sync::Mutex::new(Hook::default()));
    let layer = {
        let (hook, other, leavers) = (Arc::clone(&hook), other.clone(), Arc::new(leavers));
        tower::layer::layer_fn(move |inner: ClerkService| {
            let (hook, other, leavers) = (Arc::clone(&hook), other.clone(), Arc::clone(&leavers));
            BoxCloneSyncService::new(tower::service_fn(move |request: http::Request<_>| {
                let (inner, hook, other, leavers) = (
                    inner.clone(),
                    Arc::clone(&hook),
                    other.clone(),
                    Arc::clone(&leavers),
                );
                async move {
                    let export = request.method() == http::Method::GET
                        && request.uri().path().ends_with("/users")
                        && !request.uri().query().unwrap_or("").contains("external_id");
                    if !export {
                        return inner.oneshot(request).await;
                    }
                    let mut hook = hook.lock().await;
                    hook.pages += 1;
                    if hook.pages == 2 {
                        // Shard 2 deletes its leavers among the users already read.
                        for id in std::mem::take(&mut hook.first_page) {
                            other.users().delete(id).await.unwrap();
                            hook.deleted += 1;
                        }
                    }
                    let response: ClerkResponse = inner.oneshot(request).await?;
                    if hook.pages == 1 {
                        let page: Vec<clerk_core::User> =
                            serde_json::from_slice(response.body().as_bytes()).unwrap();
                        hook.first_page = page
                            .into_iter()
                            .map(|u| u.id)
                            .filter(|id| leavers.contains(id) && theirs.contains(id))
                            .collect();
                    }
                    Ok(response)
                }
            }))
        })
    };
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .attempt_layer(layer)
        .build()
        .unwrap();
    let rows: Vec<Map<String, Value>> = (0..USERS).filter(|i| i % 2 == 0).map(row).collect();
    let source =
        futures_util::stream::iter(rows).map(|r| Ok::<_, std::io::Error>(SourceRecord::new(r)));
    let options = SyncOptions::new()
        .missing(Missing::Delete)
        .max_deletes(USERS as u64)
        .shard(mine);
    let plan = sync::plan(&clerk, source, &options, &NoObserver)
        .await
        .unwrap();
    let mut planned: Vec<String> = plan.missing.iter().map(|m| m.unwrap().user_id).collect();
    planned.sort();
    assert_eq!(
        planned.len(),
        expected.len(),
        "shard 1's leavers behind the users deleted between pages were missed"
    );
    assert_eq!(planned, expected);
    {
        let hook = hook.lock().await;
        assert_eq!(hook.pages, 3, "the export is read in 3 pages");
        // About a quarter of a 500-user page: shard 2's half of the leavers.
        assert!(
            hook.deleted >= 50,
            "the hook deleted {} users",
            hook.deleted
        );
    }
    emu.shutdown().await.unwrap();
}
