#!/usr/bin/env bash
# Runs Clerk's official Python SDK against the emulator binary (all 27 Users operations).
# Needs target/debug/clerk-emulator (cargo build -p clerk-emulator) and PyPI access for
# clerk-backend-api, installed into a venv under target/.
set -euo pipefail
cd "$(dirname "$0")/../../.."

sdk_version=7.0.0
venv=target/sdk-check-venv
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import clerk_backend_api" 2>/dev/null; then
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "clerk-backend-api==$sdk_version"; then
    echo "sdk-check: could not install clerk-backend-api $sdk_version from PyPI; SDK check NOT run" >&2
    exit 0
  fi
fi

log=$(mktemp)
target/debug/clerk-emulator --listen 127.0.0.1:0 --rate-limit off >"$log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do
  grep -q "^listening on " "$log" && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$log" | head -1)
if [[ -z "$url" ]]; then
  echo "sdk-check: the emulator did not start" >&2
  cat "$log" >&2
  exit 1
fi
"$venv/bin/python" crates/clerk-emulator/sdk-check/python_sdk.py "$url"
