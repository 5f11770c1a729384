#!/usr/bin/env bash
# User-space instructions per `GET /users/{id}` for each client of benches/peers.rs,
# counted by valgrind's callgrind (the emulator child runs natively, untraced):
# (Ir(N2 requests) - Ir(N1 requests)) / (N2 - N1), so start-up and warm-up cancel out.
#   bash benches/peers-callgrind.sh            # N1=1000 N2=5000
#   N1=2000 N2=12000 bash benches/peers-callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }
N1=${N1:-1000}
N2=${N2:-5000}
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
declare -A per
for client in stack reqwest raw; do
  a=$(instructions "$client" "$N1")
  b=$(instructions "$client" "$N2")
  per[$client]=$(( (b - a) / (N2 - N1) ))
  printf '%-8s %8d instructions per request\n' "$client" "${per[$client]}"
done
awk -v a="${per[stack]}" -v b="${per[reqwest]}" -v c="${per[raw]}" 'BEGIN {
  printf "(a)/(c) stack/raw = %.3f (goal <= 1.05), (a)/(b) stack/reqwest = %.3f (goal <= 0.80)\n", a / c, a / b }'
