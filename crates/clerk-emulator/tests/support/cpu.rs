//! CPU time of the calling thread, for tests that bound work done: a loaded machine can
//! stretch the wall time of a few microseconds of parsing to seconds, not its CPU time,
//! and tests running beside it on other threads do not count.

use std::time::Duration;

/// User plus system time this thread has used so far.
#[cfg(target_os = "linux")]
pub(crate) fn thread_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage(RUSAGE_THREAD)");
    let t = |tv: nix::sys::time::TimeVal| {
        Duration::from_secs(tv.tv_sec().max(0) as u64)
            + Duration::from_micros(tv.tv_usec().max(0) as u64)
    };
    t(usage.user_time()) + t(usage.system_time())
}

/// Without a per-thread clock: the time since the first call (an upper bound).
#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_cpu() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}
