#!/usr/bin/env bash
# Runs a short migration bench with --report and renders the page with headless
# Chromium to a PNG, as a person would look at it.
#   bash crates/clerk-cli/report-screenshot.sh [OUT.png] [bench flags…]
# Default: docs/bench-report.png from 900 users at 300/10s with faults on.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v chromium >/dev/null || { echo "chromium is missing: apt-get install -y chromium" >&2; exit 1; }
out=${1:-docs/bench-report.png}
shift || true
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(--users 900 --rate-limit 300/10s --concurrency 16
  --faults '5xx=0.03,reset=0.01,lost_response=0.02')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run --quiet --locked -p clerk-cli -- bench "${flags[@]}" --report "$work/report.html"
[ -z "${KEEP_HTML:-}" ] || cp "$work/report.html" "$KEEP_HTML"
mkdir -p "$(dirname "$out")"
case $out in /*) png=$out ;; *) png=$PWD/$out ;; esac
# A fresh profile, nothing fetched, nothing kept.
chromium --headless --no-sandbox --disable-gpu --disable-quic --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1040,1500 \
  --screenshot="$png" "file://$work/report.html" 2>"$work/chromium.log" \
  || { cat "$work/chromium.log" >&2; exit 1; }
[ -s "$png" ] || { cat "$work/chromium.log" >&2; echo "chromium wrote no $png" >&2; exit 1; }
echo "wrote $out ($(wc -c <"$out") bytes)"
