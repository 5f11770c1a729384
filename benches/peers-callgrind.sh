#!/usr/bin/env bash
# User-space instructions per `GET /users/{id}` for each client of benches/peers.rs,
# counted by valgrind's callgrind (the emulator child runs natively, untraced):
# (Ir(N2 requests) - Ir(N1 requests)) / (N2 - N1), so start-up and warm-up cancel out.
# Each figure is the median of REPS such differences: a single one moves by about
# ±1.5 % from run to run (how often hyper-util's pool finds no idle connection, and
# glibc's malloc taking its slow path), the same for every client.
# With PEERS_CONCURRENCY=1 (one request at a time) a call's polls follow one pattern
# and the counts hardly move from rep to rep.
#   bash benches/peers-callgrind.sh            # N1=1000 N2=5000 REPS=3
#   N1=2000 N2=12000 REPS=5 bash benches/peers-callgrind.sh
#   PEERS_CONCURRENCY=1 REPS=5 bash benches/peers-callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
N1=${N1:-1000}
N2=${N2:-5000}
REPS=${REPS:-3}
bin=$(cargo bench --bench peers --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*peers-[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "could not build the peers bench" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
instructions() { # client requests
  PEERS_CLIENT=$1 PEERS_REQUESTS=$2 valgrind --tool=callgrind --callgrind-out-file="$out/$1.$2" \
    "$bin" >/dev/null 2>"$out/log"
  sed -n 's/^summary: //p' "$out/$1.$2"
}
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# The counts move with the machine's load too (how often a poll finds the answer
# already there), so the clients take turns, rep by rep: a drift hits all three.
declare -A per runs
for _ in $(seq "$REPS"); do
  for client in stack reqwest raw; do
    a=$(instructions "$client" "$N1")
    b=$(instructions "$client" "$N2")
    runs[$client]="${runs[$client]:-} $(( (b - a) / (N2 - N1) ))"
  done
done
for client in stack reqwest raw; do
  per[$client]=$(echo ${runs[$client]} | median)
  printf '%-8s %8d instructions per request (median of:%s)\n' "$client" "${per[$client]}" "${runs[$client]}"
done
awk -v a="${per[stack]}" -v b="${per[reqwest]}" -v c="${per[raw]}" 'BEGIN {
  printf "(a)/(c) stack/raw = %.3f (goal <= 1.05), (a)/(b) stack/reqwest = %.3f (goal <= 0.80)\n", a / c, a / b }'
