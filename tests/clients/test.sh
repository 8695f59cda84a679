#!/usr/bin/env bash
# Microsoft's own clients (MSAL, Azure Identity, the Graph SDK for Python;
# msal-node and @azure/identity for Node) against the emulator over HTTPS:
# the proof that the emulator is faithful where those clients are strict.
# Installs its own packages; the last line is "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"
CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export CARGO_BUILD_TARGET

if [ ! -x .venv/bin/pytest ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q 'msal==1.39.0' 'azure-identity==1.27.0' 'msgraph-sdk==1.65.0' 'pytest==8.4.2'
fi
[ -d node_modules/@azure/msal-node ] || npm install --no-audit --no-fund --silent
# scripts/test.sh installs every suite's needs at its start, with --install.
[ "${1:-}" != --install ] || exit 0

# Built already when scripts/test.sh says so (GRAPHMAILER_DEBUG_BUILT).
[ -n "${GRAPHMAILER_DEBUG_BUILT:-}" ] || cargo build -q -p graphmailer-emulator
emulator="$root/target/$CARGO_BUILD_TARGET/debug/graphmailer-emulator"

fifo=$(mktemp -u)
py_log=$(mktemp)
node_log=$(mktemp)
mkfifo "$fifo"
"$emulator" --port 0 >"$fifo" 2>/dev/null &
pid=$!
# The emulator removes its CA folder when SIGTERM stops it: wait for that.
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$fifo" "$py_log" "$node_log"' EXIT
exec 3<"$fifo"
read -r banner <&3
export GRAPHMAILER_EMULATOR_BANNER=$banner
ca=$(printf '%s' "$banner" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ca_file"])')

status=0
# scripts/test.sh counts the results from the runners' JUnit XML.
py_junit=() node_junit=()
if [ -n "${GRAPHMAILER_JUNIT_DIR:-}" ]; then
  py_junit=(--junitxml "$GRAPHMAILER_JUNIT_DIR/clients-python.xml")
  if node -e 'process.exit(require("node:test/reporters").junit ? 0 : 1)' 2>/dev/null; then
    node_junit=(--test-reporter=tap --test-reporter-destination=stdout
      --test-reporter=junit --test-reporter-destination="$GRAPHMAILER_JUNIT_DIR/clients-node.xml")
  fi
fi
REQUESTS_CA_BUNDLE=$ca SSL_CERT_FILE=$ca .venv/bin/pytest -q -p no:cacheprovider "${py_junit[@]}" test_python_clients.py 2>&1 | tee "$py_log" || status=1
NODE_EXTRA_CA_CERTS=$ca node --test "${node_junit[@]}" test/ 2>&1 | tee "$node_log" || status=1

p=$(( $(grep -Eo '[0-9]+ passed' "$py_log" | tail -1 | grep -Eo '[0-9]+' || echo 0) + $(grep -E '^(# |ℹ )pass [0-9]+' "$node_log" | grep -Eo '[0-9]+$' || echo 0) ))
f=$(( $(grep -Eo '[0-9]+ (failed|error)' "$py_log" | awk '{s+=$1} END {print s+0}') + $(grep -E '^(# |ℹ )fail [0-9]+' "$node_log" | grep -Eo '[0-9]+$' || echo 0) ))
[ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
echo "$p passed, $f failed"
[ "$status" -eq 0 ]
