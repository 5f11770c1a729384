//! Exactly-once bulk work on Clerk users, as a library: the engine behind
//! `clerk-users import`, reusable by other bulk jobs (`sync`) without the CLI.
//!
//! - [`record`]: a record's compact [`record::Body`], its stable key, and the
//!   [`record::Lookup`] that finds it on the server;
//! - [`journal`]: the checkpoint journal, append-only JSON Lines made durable
//!   (group-committed `fsync`) before an outcome counts, read back on a rerun;
//! - [`shard`]: `K/N`, which records one of N processes sharing an input takes;
//! - [`files`]: files of users' data, readable by their owner only;
//! - [`import`]: the create loop — a bounded pool of workers sharing one
//!   rate-limited [`clerk_tower::Clerk`], reconciling every ambiguous create by
//!   looking the record up instead of creating it twice;
//! - [`sync`]: plan, then apply — keep an instance equal to a source of truth
//!   (a file, a database query: any `Stream` of records), creating through
//!   [`import`], updating only the fields that differ.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use clerk_migrate::import::{self, Item, NoProgress, Options};
//! use clerk_migrate::journal::{self, JournalWriter};
//! use clerk_migrate::record::{Body, Lookup, record_key};
//! use clerk_tower::Clerk;
//!
//! # async fn run() -> Result<(), String> {
//! let clerk = Clerk::builder().build().map_err(|e| e.to_string())?;
//! let map = serde_json::json!({"external_id": "crm-42", "email_address": ["ada@example.com"]});
//! let map = map.as_object().cloned().unwrap_or_default();
//! let items = vec![Item {
//!     index: 0,
//!     line: 1,
//!     key: record_key(&map),
//!     lookup: Lookup::for_body(&map),
//!     body: Body::from_map(map),
//! }];
//! let path = std::path::Path::new("users.checkpoint.jsonl");
//! let loaded = journal::load(path).map_err(|e| e.to_string())?;
//! let writer = Arc::new(JournalWriter::open(path).map_err(|e| e.to_string())?);
//! let summary = import::run(&clerk, items, &loaded, writer, Options::default(), Arc::new(NoProgress)).await?;
//! println!("created {} · already present {}", summary.created, summary.already_present);
//! # Ok(()) }
//! ```

pub mod files;
pub mod import;
pub mod journal;
pub mod record;
pub mod shard;
pub mod sync;
