//! This process's CPU time, shared by the benches that measure it.

use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};

/// CPU time (user + system) of this process, from `getrusage` (microseconds; /proc
/// counts 10 ms ticks, too coarse for short measurements).
pub(crate) fn own_cpu() -> Duration {
    getrusage(UsageWho::RUSAGE_SELF).map_or(Duration::ZERO, |u| {
        let t = |tv: nix::sys::time::TimeVal| {
            Duration::from_secs(tv.tv_sec().max(0) as u64)
                + Duration::from_micros(tv.tv_usec().max(0) as u64)
        };
        t(u.user_time()) + t(u.system_time())
    })
}
