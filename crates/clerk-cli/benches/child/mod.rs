//! One `clerk-users` run measured on its own, shared by the scale benches: the bench
//! binary re-runs itself as a helper child (the bench's child variable set), which
//! runs `clerk-users`, waits for it and reads its own `getrusage(RUSAGE_CHILDREN)`,
//! so the peak RSS and CPU time are that one process's, the bench's emulator left out.
//! Also the record counts a bench is asked for ([`sizes`]) and [`mib`].

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Set in the helper child to the `clerk-users` binary to run (a baseline's); this
/// build's when unset.
const BINARY_ENV: &str = "CLERK_BENCH_CLERK_USERS";

/// One run's figures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Figures {
    pub(crate) peak_rss_kib: u64,
    pub(crate) cpu_s: f64,
    pub(crate) wall_s: f64,
}

/// The helper child: runs `clerk-users` with `args`, prints `peak_kib cpu_s wall_s`
/// (its own children's usage: that one process), then the run's own output.
pub(crate) fn helper(args: Vec<String>) -> ! {
    let binary =
        std::env::var_os(BINARY_ENV).unwrap_or_else(|| env!("CARGO_BIN_EXE_clerk-users").into());
    let started = Instant::now();
    let out = Command::new(binary)
        .args(&args)
        .env_remove("CLERK_SECRET_KEY")
        .env_remove("CLERK_API_URL")
        .output()
        .expect("run clerk-users");
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!(
            "clerk-users {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(1);
    }
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let cpu = secs(usage.user_time()) + secs(usage.system_time());
    // Linux reports ru_maxrss in KiB.
    println!("{} {cpu:.3} {wall:.3}", usage.max_rss());
    print!("{}", String::from_utf8_lossy(&out.stdout));
    std::process::exit(0);
}

/// Figures of one run of `binary` (this build's `clerk-users` when `None`) through a
/// helper child (`child_env` set), and the run's `--json` summary (its last JSON line).
pub(crate) fn measure(
    child_env: &str,
    binary: Option<&Path>,
    args: &[String],
) -> (Figures, serde_json::Value) {
    let mut helper = Command::new(std::env::current_exe().expect("bench binary"));
    if let Some(binary) = binary {
        helper.env(BINARY_ENV, OsStr::new(binary));
    }
    let out = helper
        .env(child_env, "1")
        .args(args)
        .output()
        .expect("run the helper");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let (figures, summary) = text.split_once('\n').expect("the helper's figures");
    let fields: Vec<&str> = figures.split_whitespace().collect();
    let figures = Figures {
        peak_rss_kib: fields[0].parse().expect("kib"),
        cpu_s: fields[1].parse().expect("cpu"),
        wall_s: fields[2].parse().expect("wall"),
    };
    let summary = summary
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    (figures, summary)
}

/// The record counts in `var` (`100000,1000000`, `_` allowed), else `default`.
pub(crate) fn sizes(var: &str, default: &str) -> Vec<u64> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().replace('_', "").parse().expect("a record count"))
        .collect()
}

/// KiB in MiB.
pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
