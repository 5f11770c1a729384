//! Counters behind `GET /_emulator/stats` and [`crate::Emulator::stats`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use crate::config::FaultKind;
use crate::op::Op;

/// A snapshot of the emulator's counters.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Requests received per operation (spec `operationId`), including rejected ones.
    pub requests_per_operation: BTreeMap<String, u64>,
    /// Responses sent per HTTP status (injected faults included; closed connections are not
    /// responses).
    pub responses_per_status: BTreeMap<u16, u64>,
    /// Faults injected per kind (`5xx`, `reset`, `lost_response`, `429`).
    pub faults_injected: BTreeMap<String, u64>,
    /// 429s sent by the rate limiter (instance and per-user limits; spurious 429 faults are
    /// counted under `faults_injected["429"]`).
    pub rate_limited: u64,
    /// Per instance, keyed by the redacted secret key (`sk_test_…ator`).
    pub instances: BTreeMap<String, InstanceStats>,
    /// All `/v1` requests received.
    pub total_requests: u64,
}

/// Per-instance counters.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct InstanceStats {
    /// Users stored.
    pub users: u64,
    /// Organizations stored.
    pub organizations: u64,
    /// Authenticated requests to this instance (admitted or rate limited).
    pub requests: u64,
    /// The most requests admitted in any window of `window_ms`.
    pub max_window_requests: u64,
    /// Requests admitted in the window of `window_ms` that ends now.
    #[serde(default)]
    pub window_requests: u64,
    /// Rate-limit window length in milliseconds.
    pub window_ms: u64,
    /// Requests allowed per window (`None`: rate limiting off).
    pub limit: Option<u64>,
    /// `true` for production (`sk_live_…`) instances.
    pub production: bool,
}

#[derive(Debug)]
pub(crate) struct Counters {
    ops: Vec<AtomicU64>,
    statuses: Vec<AtomicU64>,
    faults: [AtomicU64; FaultKind::ALL.len()],
    pub(crate) rate_limited: AtomicU64,
    total: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self {
            ops: Op::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            statuses: (0..600).map(|_| AtomicU64::new(0)).collect(),
            faults: Default::default(),
            rate_limited: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// One `/v1` request arrived (`op` is `None` for unknown routes).
    pub(crate) fn request(&self, op: Option<Op>) {
        self.total.fetch_add(1, Relaxed);
        if let Some(op) = op {
            self.ops[op.index()].fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn status(&self, status: u16) {
        if let Some(c) = self.statuses.get(usize::from(status)) {
            c.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn fault(&self, kind: FaultKind) {
        self.faults[kind.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn reset(&self) {
        for c in self.ops.iter().chain(&self.statuses).chain(&self.faults) {
            c.store(0, Relaxed);
        }
        self.rate_limited.store(0, Relaxed);
        self.total.store(0, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            requests_per_operation: Op::ALL
                .iter()
                .map(|op| (op.name().to_owned(), self.ops[op.index()].load(Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            responses_per_status: self
                .statuses
                .iter()
                .enumerate()
                .filter_map(|(s, c)| {
                    let n = c.load(Relaxed);
                    (n > 0).then(|| (u16::try_from(s).unwrap_or(0), n))
                })
                .collect(),
            faults_injected: FaultKind::ALL
                .iter()
                .map(|k| (k.as_str().to_owned(), self.faults[k.index()].load(Relaxed)))
                .collect(),
            rate_limited: self.rate_limited.load(Relaxed),
            instances: BTreeMap::new(),
            total_requests: self.total.load(Relaxed),
        }
    }
}
