#!/usr/bin/env bash
# Short migration benchmark for CI: a thousand users at Clerk's production quota, without
# and with injected faults, using the debug binary CI already built. Fails on any
# lost, duplicated or failed user, on a 429 in the fault-free run, and on a
# rate-limit window above the quota. CLERK_USERS_BIN runs another binary (a release
# build: CLERK_USERS_BIN=target/release/clerk-users).
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${CLERK_USERS_BIN:-target/debug/clerk-users}
if [[ ! -x "$bin" ]]; then
  echo "ci-bench: $bin is missing; build it first (cargo build -p clerk-cli)" >&2
  exit 1
fi

check() {
  # $1: label, $2: whether 429s are allowed (0/1), stdin: the bench JSON
  python3 -c '
import json, sys
label, allow_429 = sys.argv[1], sys.argv[2] == "1"
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
problems = []
for key in ("lost", "duplicated", "failed"):
    if r[key] != 0:
        problems.append(f"{key}={r[key]}")
if r["created"] + r["already_present"] != r["users"]:
    problems.append(f"created+already_present={r['\''created'\''] + r['\''already_present'\'']} of {r['\''users'\'']}")
if not allow_429 and r["http_429"] != 0:
    problems.append(f"http_429={r['\''http_429'\'']}")
mw = r.get("max_window_requests")
if mw is None or mw > r["quota_requests"]:
    problems.append(f"max_window_requests={mw} over quota {r['\''quota_requests'\'']}")
print(f"{label}: users={r['\''users'\'']} created={r['\''created'\'']} already_present={r['\''already_present'\'']} "
      f"lost={r['\''lost'\'']} duplicated={r['\''duplicated'\'']} failed={r['\''failed'\'']} retries={r['\''retries'\'']} "
      f"http_429={r['\''http_429'\'']} max_window={mw}/{r['\''quota_requests'\'']} utilization={r['\''utilization'\'']:.3f}")
if problems:
    print(f"{label}: FAILED: " + ", ".join(problems), file=sys.stderr)
    sys.exit(1)
' "$1" "$2"
}

# Clerk's own production quota, 1,000 per 10 s, and 10 % more users than one window holds,
# so every run crosses a window boundary. A compressed 1 s window would leave the client's
# margin at 2.5 ms (W/400), less than a loaded CI machine can delay one request on its
# way to the server: a 429 from scheduling, not from the limiter.
common=(bench --json --users 1100 --rate-limit 1000/10s --latency 1..5)

"$bin" "${common[@]}" | check "fault-free" 0
"$bin" "${common[@]}" --faults '5xx=0.05,reset=0.02,lost_response=0.02' | check "with faults" 1
