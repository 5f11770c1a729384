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
                    let why = waiting.lock().ok().and_then(|w| w.clone());
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
