#!/usr/bin/env bash
# Runs Clerk's official SDKs against the emulator binary, unchanged: Python
# (clerk-backend-api: all 36 of its Users operations, plus the 2 replace_for_user calls) and JavaScript (@clerk/backend: the 31 its
# users API has). Needs target/debug/clerk-emulator (cargo build -p clerk-emulator), and
# PyPI and npm for the SDKs, installed under target/. An SDK that cannot be installed is
# reported and skipped; an SDK call that fails fails the script.
set -euo pipefail
cd "$(dirname "$0")/../../.."

python_sdk=7.0.0
js_sdk=3.25.0
venv=target/sdk-check/venv
js_dir=target/sdk-check/js
python_ready=yes
js_ready=yes
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" || python_ready=no
fi
if [[ $python_ready == yes ]] && ! "$venv/bin/python" -c "import clerk_backend_api" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "clerk-backend-api==$python_sdk" || python_ready=no
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  js_ready=no
elif [[ ! -d "$js_dir/node_modules/@clerk/backend" ]]; then
  mkdir -p "$js_dir"
  npm install --silent --no-audit --no-fund --prefix "$js_dir" "@clerk/backend@$js_sdk" || js_ready=no
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
if [[ $python_ready == yes ]]; then
  echo "--- clerk-backend-api $python_sdk (Python)"
  "$venv/bin/python" crates/clerk-emulator/sdk-check/python_sdk.py "$url"
else
  echo "sdk-check: could not install clerk-backend-api $python_sdk: Python SDK check NOT run" >&2
fi
if [[ $js_ready == yes ]]; then
  echo "--- @clerk/backend $js_sdk (JavaScript)"
  # ES modules resolve packages next to the script: run a copy inside the install.
  cp crates/clerk-emulator/sdk-check/js_sdk.mjs "$js_dir/"
  node "$js_dir/js_sdk.mjs" "$url"
else
  echo "sdk-check: could not install @clerk/backend $js_sdk: JavaScript SDK check NOT run" >&2
fi
