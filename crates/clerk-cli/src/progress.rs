//! The progress bar: done/total, request rate against the quota, ETA, retries and
//! 429s. Shown only when stdout is a terminal and `--json` is off.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clerk_tower::Clerk;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

/// A progress bar, or nothing when hidden.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<JoinHandle<()>>,
    /// What the run is waiting for, shown instead of the rate while it waits.
    waiting: Arc<Mutex<Option<String>>>,
}

/// Whether progress should be drawn.
pub(crate) fn wanted(json: bool) -> bool {
    !json && std::io::stdout().is_terminal()
}

impl Progress {
    /// A hidden bar.
    pub(crate) fn hidden() -> Self {
        Self {
            bar: None,
            ticker: None,
            waiting: Arc::default(),
        }
    }

    /// A bar over `total` items (a counter when `total` is `None`), refreshed with
    /// the client's request rate, retries and 429s.
    pub(crate) fn new(
        show: bool,
        total: Option<u64>,
        clerk: &Clerk,
        quota_rps: Option<f64>,
    ) -> Self {
        if !show {
            return Self::hidden();
        }
        let bar = match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if total.is_some() {
            "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} ETA {eta} {msg}"
        } else {
            "{spinner} {elapsed_precise} {human_pos} users {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        let waiting: Arc<Mutex<Option<String>>> = Arc::default();
        let ticker = {
            let bar = bar.clone();
            let waiting = Arc::clone(&waiting);
            let clerk = clerk.clone();
            tokio::spawn(async move {
                let mut last = (Instant::now(), clerk.metrics().attempts);
                let mut interval = tokio::time::interval(Duration::from_millis(500));
                loop {
                    interval.tick().await;
                    let m = clerk.metrics();
                    let now = Instant::now();
                    let secs = now.duration_since(last.0).as_secs_f64().max(1e-3);
                    let rate = (m.attempts - last.1) as f64 / secs;
                    last = (now, m.attempts);
                    let quota =
                        quota_rps.map_or_else(|| "unlimited".to_owned(), |q| format!("{q:.0}"));
                    let why = waiting
                        .lock()
                        .ok()
                        .and_then(|w| w.clone())
                        .or_else(retry_wait);
                    let cooldown = clerk
                        .rate_limiter()
                        .and_then(|l| l.cooldown_remaining())
                        .map(|d| format!(" · 429 cooldown {} s", d.as_secs()))
                        .unwrap_or_default();
                    bar.set_message(match why {
                        Some(why) => format!("waiting: {why}{cooldown}"),
                        None => format!(
                            "{rate:.0}/{quota} req/s · retries {} · 429s {}{cooldown}",
                            m.retries, m.rate_limited
                        ),
                    });
                    bar.tick();
                }
            })
        };
        Self {
            bar: Some(bar),
            ticker: Some(ticker),
            waiting,
        }
    }

    /// A handle for worker tasks (`None` when hidden).
    pub(crate) fn bar(&self) -> Option<ProgressBar> {
        self.bar.clone()
    }

    /// A handle for the import engine's worker tasks.
    pub(crate) fn ticks(&self) -> Arc<dyn clerk_migrate::import::Progress> {
        Arc::new(Ticks(self.bar.clone(), Arc::clone(&self.waiting)))
    }

    /// `n` more items done.
    pub(crate) fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Ticks the bar from the engine's worker tasks (nothing when hidden), and says
/// what the run waits for: on the bar, and in the log.
struct Ticks(Option<ProgressBar>, Arc<Mutex<Option<String>>>);

impl clerk_migrate::import::Progress for Ticks {
    fn set_position(&self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(done);
            bar.reset_eta();
        }
    }

    fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    fn waiting(&self, why: Option<&str>) {
        if let Some(why) = why {
            tracing::warn!("waiting: {why}");
        }
        if let Ok(mut slot) = self.1.lock() {
            *slot = why.map(str::to_owned);
        }
    }
}

/// The retry layer's latest wait for a `Retry-After`: until when, and why.
static RETRY_WAIT: Mutex<Option<(Instant, String)>> = Mutex::new(None);

/// What the retry layer is waiting for right now, if anything
/// (`Retry-After 25 s: 503 on CreateUser, 19 s left`).
fn retry_wait() -> Option<String> {
    let slot = RETRY_WAIT.lock().ok()?;
    let (until, why) = slot.as_ref()?;
    let left = until.checked_duration_since(Instant::now())?;
    Some(format!("{why}, {} s left", left.as_secs() + 1))
}

/// A tracing layer that hears the retry layer's `Retry-After` waits (target
/// `clerk_layers::retry`, fields `retry_after_s`, `status`, `operation`) and
/// keeps the latest for the progress bar.
pub(crate) struct RetryWaits;

#[derive(Default)]
struct WaitFields {
    retry_after_s: Option<f64>,
    status: Option<u64>,
    operation: Option<String>,
}

impl tracing::field::Visit for WaitFields {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "retry_after_s" {
            self.retry_after_s = Some(value);
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if field.name() == "status" {
            self.status = Some(value);
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "operation" {
            self.operation = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, _field: &tracing::field::Field, _value: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RetryWaits {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != "clerk_layers::retry" {
            return;
        }
        let mut fields = WaitFields::default();
        event.record(&mut fields);
        let Some(secs) = fields
            .retry_after_s
            .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        else {
            return;
        };
        let why = format!(
            "Retry-After {secs} s: {} on {}",
            fields.status.unwrap_or(0),
            fields.operation.as_deref().unwrap_or("a request")
        );
        if let Ok(mut slot) = RETRY_WAIT.lock() {
            *slot = Some((Instant::now() + Duration::from_secs_f64(secs), why));
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn the_bar_hears_the_retry_layers_waits_and_nothing_else() {
        let subscriber = tracing_subscriber::registry().with(RetryWaits);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "elsewhere", retry_after_s = 9.0, "not a retry wait");
            assert_eq!(retry_wait(), None);
            tracing::info!(
                target: "clerk_layers::retry",
                operation = "CreateUser",
                status = 503u16,
                retry_after_s = 25.0,
                attempt = 2u32,
                "waiting"
            );
        });
        let shown = retry_wait().expect("a wait in progress");
        assert!(
            shown.starts_with("Retry-After 25 s: 503 on CreateUser, ")
                && shown.ends_with(" s left"),
            "{shown}"
        );
    }
}
