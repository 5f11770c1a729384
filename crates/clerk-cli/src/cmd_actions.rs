//! `clerk-users ban|unban|delete|lock|unlock --ids FILE`.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use clap::Args;
use clerk_core::{Applied, Error};
use clerk_tower::Clerk;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::args::{ConnectArgs, IdsArgs, OutputArgs};
use crate::progress::{self, Progress};
use crate::report::{human, thousands};
use crate::terminal::say;
use crate::{CliError, CliResult};

/// Clerk's bulk ban/unban take 1 to 50 ids.
pub(crate) const BULK_CHUNK: usize = 50;

/// A bulk action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Ban,
    Unban,
    Delete,
    Lock,
    Unlock,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Ban => "ban",
            Self::Unban => "unban",
            Self::Delete => "delete",
            Self::Lock => "lock",
            Self::Unlock => "unlock",
        }
    }
}

/// Arguments of the bulk actions.
#[derive(Args, Debug)]
pub(crate) struct ActionArgs {
    #[command(flatten)]
    pub(crate) ids: IdsArgs,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// User ids from text: one per line, blank lines and `#` comments skipped; a JSON
/// object line contributes its `id` (so `export` output works). Duplicates dropped. An id
/// Clerk cannot have issued (a control character, over 128 bytes) is refused with its line.
pub(crate) fn parse_ids(text: &str) -> Result<Vec<String>, String> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = if line.starts_with('{') {
            let value: Value = serde_json::from_str(line)
                .map_err(|e| format!("line {}: invalid JSON: {e}", i + 1))?;
            match value
                .get("id")
                .or_else(|| value.get("user_id"))
                .and_then(Value::as_str)
            {
                Some(id) => id.to_owned(),
                None => return Err(format!("line {}: JSON line without an `id`", i + 1)),
            }
        } else {
            line.to_owned()
        };
        // Refused here, with its line, rather than failing a request (or a chunk of 50).
        if let Err(rejection) = clerk_rules::limits::object_id("user_id", &id) {
            return Err(format!(
                "line {}: not a user id: {} ({})",
                i + 1,
                rejection.reason(),
                crate::validate::excerpt(&id)
            ));
        }
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[derive(Debug, Default)]
struct Tally {
    done: AtomicUsize,
    /// Deletes whose answer was lost and whose resend found the user gone: done
    /// (the first attempt deleted them), counted in `done` too.
    gone_on_resend: AtomicUsize,
    /// Actions Clerk answered with a 2xx whose body could not be read: applied
    /// (resending would not make them more done), counted in `done` too.
    applied_unread: AtomicUsize,
    failures: Mutex<BTreeMap<String, Vec<String>>>,
}

impl Tally {
    /// Counts `ids` done if `err` is a 2xx with an unreadable body; false otherwise.
    fn applied_anyway(&self, err: &Error, ids: usize) -> bool {
        if Applied::of_error(err) != Applied::Yes || !err.is_decode() {
            return false;
        }
        self.done.fetch_add(ids, Relaxed);
        self.applied_unread.fetch_add(ids, Relaxed);
        true
    }

    fn fail(&self, code: String, ids: &[String]) {
        if let Ok(mut f) = self.failures.lock() {
            f.entry(code).or_default().extend(ids.iter().cloned());
        }
    }
}

fn code_of(err: &Error) -> String {
    err.clerk_errors()
        .first()
        .map_or_else(|| err.error_type().into_owned(), |e| e.code.clone())
}

async fn act(clerk: &Clerk, action: Action, chunk: &[String], tally: &Tally) {
    let users = clerk.users();
    match action {
        Action::Ban | Action::Unban => {
            let result = if action == Action::Ban {
                users.ban_many(chunk.iter().cloned()).await
            } else {
                users.unban_many(chunk.iter().cloned()).await
            };
            match result {
                Ok(changed) => {
                    let returned: HashSet<&str> = changed.iter().map(|u| u.id.as_str()).collect();
                    let missing: Vec<String> = chunk
                        .iter()
                        .filter(|id| !returned.contains(id.as_str()))
                        .cloned()
                        .collect();
                    tally.done.fetch_add(chunk.len() - missing.len(), Relaxed);
                    if !missing.is_empty() {
                        tally.fail("resource_not_found".into(), &missing);
                    }
                }
                Err(err) if tally.applied_anyway(&err, chunk.len()) => {}
                Err(err) => tally.fail(code_of(&err), chunk),
            }
        }
        Action::Delete | Action::Lock | Action::Unlock => {
            for id in chunk {
                // `true`: a delete the client resent after a lost answer, found gone.
                let result = match action {
                    Action::Delete => users.delete(id.clone()).await.map(|d| d.applied_earlier),
                    Action::Lock => users.lock(id.clone()).await.map(|_| false),
                    _ => users.unlock(id.clone()).await.map(|_| false),
                };
                match result {
                    Ok(gone_on_resend) => {
                        tally.done.fetch_add(1, Relaxed);
                        if gone_on_resend {
                            tally.gone_on_resend.fetch_add(1, Relaxed);
                        }
                    }
                    Err(err) if tally.applied_anyway(&err, 1) => {}
                    Err(err) => tally.fail(code_of(&err), std::slice::from_ref(id)),
                }
            }
        }
    }
}

pub(crate) async fn run(action: Action, args: ActionArgs) -> CliResult<()> {
    let text = match args.ids.ids.as_deref() {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?,
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::usage(format!("cannot read ids from stdin: {e}")))?;
            text
        }
    };
    let ids = parse_ids(&text).map_err(CliError::usage)?;
    let clerk = args.connect.client().map_err(CliError::usage)?;
    let started = Instant::now();
    let chunk = if matches!(action, Action::Ban | Action::Unban) {
        BULK_CHUNK
    } else {
        1
    };
    let chunks: Arc<Vec<Vec<String>>> =
        Arc::new(ids.chunks(chunk).map(<[String]>::to_vec).collect());
    let progress = Progress::new(
        progress::wanted(args.output.json),
        Some(ids.len() as u64),
        &clerk,
        args.connect.quota_rps(),
    );
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..(args.connect.concurrency as usize).min(chunks.len()).max(1) {
        let (clerk, chunks, tally, next, bar) = (
            clerk.clone(),
            Arc::clone(&chunks),
            Arc::clone(&tally),
            Arc::clone(&next),
            progress.bar(),
        );
        workers.spawn(async move {
            while let Some(chunk) = chunks.get(next.fetch_add(1, Relaxed)) {
                act(&clerk, action, chunk, &tally).await;
                if let Some(bar) = &bar {
                    bar.inc(chunk.len() as u64);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    progress.finish();

    let wall = started.elapsed();
    let m = clerk.metrics();
    let done = tally.done.load(Relaxed);
    let gone_on_resend = tally.gone_on_resend.load(Relaxed);
    let applied_unread = tally.applied_unread.load(Relaxed);
    let failures = tally.failures.lock().map(|f| f.clone()).unwrap_or_default();
    let failed: usize = failures.values().map(Vec::len).sum();
    if args.output.json {
        let by_code: BTreeMap<&String, usize> =
            failures.iter().map(|(k, v)| (k, v.len())).collect();
        say!(
            "{}",
            json!({"action": action.name(), "ids": ids.len(), "done": done, "failed": failed,
                   "gone_on_resend": gone_on_resend, "applied_unreadable": applied_unread,
                   "failed_by_code": by_code, "failed_ids": failures, "requests": m.attempts,
                   "retries": m.retries, "http_429": m.rate_limited, "wall_s": wall.as_secs_f64()})
        );
    } else {
        say!(
            "{}: {} of {} users in {}",
            action.name(),
            thousands(done as u64),
            thousands(ids.len() as u64),
            human(wall)
        );
        if gone_on_resend > 0 {
            say!(
                "  {} of them deleted by an attempt whose answer was lost (the resend found them gone)",
                thousands(gone_on_resend as u64)
            );
        }
        if applied_unread > 0 {
            say!(
                "  {} of them applied, though Clerk's 2xx answer could not be read",
                thousands(applied_unread as u64)
            );
        }
        for (code, ids) in &failures {
            let sample: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
            say!(
                "  failed ({code}): {} e.g. {}",
                thousands(ids.len() as u64),
                sample.join(", ")
            );
        }
        say!(
            "requests {} · retries {} · 429s {}",
            thousands(m.attempts),
            thousands(m.retries),
            thousands(m.rate_limited)
        );
    }
    if failed > 0 {
        Err(CliError::quiet(1))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_lines_or_json_lines() {
        let ids = parse_ids(
            "user_1\n\n# comment\n  user_2  \n{\"id\":\"user_3\",\"object\":\"user\"}\nuser_1\n",
        )
        .unwrap();
        assert_eq!(ids, ["user_1", "user_2", "user_3"]);
        assert!(parse_ids("{\"name\":1}").unwrap_err().contains("line 1"));
        assert!(parse_ids("{oops").unwrap_err().contains("line 1"));
    }

    #[test]
    fn ids_clerk_cannot_have_issued_are_refused_with_their_line() {
        let huge = format!("user_1\n{}\n", "u".repeat(1 << 20));
        let err = parse_ids(&huge).unwrap_err();
        assert!(
            err.starts_with("line 2: not a user id: longer than 128"),
            "{}",
            &err[..100]
        );
        assert!(err.len() < 200, "{} bytes", err.len());
        let err = parse_ids("user_1\n{\"id\":\"user_2\\u0000\"}\n").unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("NUL") && err.contains("\\u{0}"),
            "{err}"
        );
        let err = parse_ids("user_\u{1b}[2J\n").unwrap_err();
        assert!(
            err.contains("control character") && !err.contains('\u{1b}'),
            "{err}"
        );
    }
}
