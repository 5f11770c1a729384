//! Shared server state: the instances (one per secret key), counters and fault settings.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::api::control_guard::ControlAccess;
use crate::config::{RateLimit, is_production_key, redact_key};
use crate::faults::FaultState;
use crate::rate_limits::Limiter;
use crate::stats::{Counters, InstanceStats, Stats};
use crate::store::InstanceData;

/// One Clerk instance: its data behind an `RwLock` (reads run in parallel) and its limiter
/// behind a separate `Mutex`, so rate-limit bookkeeping never waits on a writer.
pub(crate) struct Instance {
    key: String,
    pub(crate) label: String,
    pub(crate) production: bool,
    data: RwLock<InstanceData>,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) requests: AtomicU64,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("key", &self.label)
            .field("production", &self.production)
            .finish_non_exhaustive()
    }
}

impl Instance {
    pub(crate) fn new(key: String, rate: RateLimit, data: InstanceData) -> Self {
        let production = is_production_key(&key);
        let (limit, window) = rate.for_instance(production);
        Self {
            label: redact_key(&key),
            key,
            production,
            data: RwLock::new(data),
            limiter: Mutex::new(Limiter::new(limit, window, rate != RateLimit::Off)),
            requests: AtomicU64::new(0),
        }
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// A panic while holding the lock cannot leave the data half-written in a way later
    /// requests care about more than a dead emulator, so poisoning is ignored.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, InstanceData> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, InstanceData> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn limiter(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stats(&self) -> InstanceStats {
        let (users, organizations) = {
            let d = self.read();
            (d.users.len() as u64, d.orgs.len() as u64)
        };
        let mut l = self.limiter();
        InstanceStats {
            window_requests: l.in_window(std::time::Instant::now()),
            users,
            organizations,
            requests: self.requests.load(Relaxed),
            max_window_requests: l.max_in_window(),
            window_ms: u64::try_from(l.window_len().as_millis()).unwrap_or(u64::MAX),
            limit: l.limit().map(|n| n as u64),
            production: self.production,
        }
    }
}

#[derive(Debug)]
pub(crate) struct App {
    pub(crate) instances: Vec<Arc<Instance>>,
    by_key: HashMap<String, Arc<Instance>>,
    /// `http://ADDR`, where images are served.
    pub(crate) origin: String,
    pub(crate) counters: Counters,
    pub(crate) faults: FaultState,
    /// Snapshot entries of instances not configured in this run, written back unchanged.
    pub(crate) dormant: Mutex<BTreeMap<String, serde_json::Value>>,
    /// Who may use `/_emulator/`.
    pub(crate) control: ControlAccess,
}

impl App {
    pub(crate) fn new(
        instances: Vec<Arc<Instance>>,
        origin: String,
        faults: FaultState,
        dormant: BTreeMap<String, serde_json::Value>,
        control: ControlAccess,
    ) -> Self {
        let by_key = instances
            .iter()
            .map(|i| (i.key().to_owned(), Arc::clone(i)))
            .collect();
        Self {
            instances,
            by_key,
            origin,
            counters: Counters::new(),
            faults,
            dormant: Mutex::new(dormant),
            control,
        }
    }

    pub(crate) fn instance(&self, key: &str) -> Option<&Arc<Instance>> {
        self.by_key.get(key)
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut s = self.counters.snapshot();
        s.instances = self
            .instances
            .iter()
            .map(|i| (i.label.clone(), i.stats()))
            .collect();
        s
    }

    /// `POST /_emulator/reset`: empty every instance, zero counters and limiter windows.
    pub(crate) fn reset(&self) {
        for i in &self.instances {
            *i.write() = InstanceData::default();
            i.limiter().clear();
            i.requests.store(0, Relaxed);
        }
        self.counters.reset();
    }
}
