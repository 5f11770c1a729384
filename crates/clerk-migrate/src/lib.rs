//! Exactly-once bulk work on Clerk users, as a library: the engine behind
//! `clerk-users import`, reusable by other bulk jobs (`sync`) without the CLI.
//!
//! - [`record`]: a record's compact [`record::Body`], the [`record::Lookup`] that
//!   finds it on the server (and is its identity in the journal), and
//!   [`record::disagreements`], the test of whether a found user *is* the record;
//! - [`journal`]: the checkpoint journal, append-only JSON Lines made durable
//!   (group-committed `fsync`) before an outcome counts, read back on a rerun;
//! - [`shard`]: `K/N`, which records one of N processes sharing an input takes;
//! - [`human`]: durations as people read them (`850 ms`, `4 min 10 s`);
//! - [`files`]: files of users' data, readable by their owner only, and scratch files;
//! - [`spill`]: sorting more than memory should hold, in runs spilled to disk;
//! - [`import`]: the create loop — a bounded pool of workers sharing one
//!   rate-limited [`clerk_tower::Clerk`]; an ambiguous create settles, is looked up,
//!   and is resent only if absent; every run ends with a verification pass;
//! - [`sync`]: plan, then apply — keep an instance equal to a source of truth
//!   (a file, a database query: any `Stream` of records), creating through
//!   [`import`], updating only the fields that differ.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use clerk_migrate::import::{self, Item, NoProgress, Options};
//! use clerk_migrate::journal;
//! use clerk_tower::Clerk;
//!
//! # async fn run() -> Result<(), String> {
//! let clerk = Clerk::builder().build().map_err(|e| e.to_string())?;
//! let body = serde_json::json!({"external_id": "crm-42", "email_address": ["ada@example.com"]});
//! let items = vec![Item::new(0, 1, body.as_object().cloned().unwrap_or_default())];
//! // Locked against a second run; replayed: what is done is skipped.
//! let (replay, writer) = journal::open("users.checkpoint.jsonl".as_ref()).map_err(|e| e.to_string())?;
//! let items = futures_util::stream::iter(items.into_iter().map(Ok));
//! let summary = import::run(&clerk, items, &replay, Arc::new(writer), Options::default(), Arc::new(NoProgress)).await?;
//! println!(
//!     "created {} · already present {} · verified {} ambiguous records: {} duplicates",
//!     summary.created, summary.already_present, summary.verified, summary.duplicates.len()
//! );
//! # Ok(()) }
//! ```

pub mod files;
pub mod human;
pub mod import;
pub mod journal;
pub mod record;
pub mod shard;
pub mod spill;
pub mod sync;
