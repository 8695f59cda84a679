#!/usr/bin/env bash
# Builds the Node.js addon against the workspace and runs the package's tests
# (node --test, against the real emulator binary). Runnable from any
# directory; starts nothing that outlives it. The last line is the test
# runner's count: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)

# napi's CLI always passes --target, so cargo must build for the same explicit
# target or everything is built twice.
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export CARGO_TERM_COLOR=never

# Node.js 20 or newer (the test runner's options); Debian's packages otherwise.
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "== installing Node.js"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
echo "== node $(node --version), npm $(npm --version 2>/dev/null)"

# The napi CLI and TypeScript. `npm ci` refuses this lock file when the
# registry lacks other platforms' optional packages, so `npm install` is the
# fallback; nothing is fetched when node_modules is already complete.
if [ -x node_modules/.bin/napi ] && [ -f node_modules/typescript/bin/tsc ] && [ -d node_modules/@types/node ]; then
  echo "== npm dependencies present"
else
  echo "== installing npm dependencies"
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
fi
# scripts/test.sh installs every suite's needs at its start, with --install.
[ "${1:-}" != --install ] || exit 0

# The emulator the tests talk to (quick when it is up to date).
# (Built already when scripts/test.sh says so: see GRAPHMAILER_DEBUG_BUILT there.)
if [ -z "${GRAPHMAILER_DEBUG_BUILT:-}" ]; then
  echo "== building the emulator"
  (cd "$root" && cargo build -p graphmailer-emulator)
fi

# The addon. The build regenerates index.d.ts from the Rust sources; the
# checked-in copy is kept so a test can tell when the two differ.
# With the workspace's dependency features (workspace-features/Cargo.toml), so
# that after scripts/test.sh's workspace build only the addon compiles.
echo "== building the addon"
checked_in=$(mktemp)
build_log=$(mktemp)
trap 'rm -f "$checked_in" "$build_log"' EXIT
cp index.d.ts "$checked_in"
node_modules/.bin/napi build --platform --js binding.js --dts index.d.ts --features workspace-features 2>&1 | tee "$build_log"
[ -z "${GRAPHMAILER_DEBUG_BUILT:-}" ] || "$root/scripts/reused-build.sh" "$build_log" graphmailer-node graphmailer-workspace-features
export GRAPHMAILER_DTS_CHECKED_IN=$checked_in
export GRAPHMAILER_EMULATOR="$root/target/$CARGO_BUILD_TARGET/debug/graphmailer-emulator"

echo "== node --test"
log=$(mktemp)
trap 'rm -f "$checked_in" "$build_log" "$log"' EXIT
status=0
flags=(--test-reporter=tap --test-reporter-destination=stdout)
# scripts/test.sh counts the results from the JUnit XML (node 20.13 and later).
if [ -n "${GRAPHMAILER_JUNIT_DIR:-}" ] && node -e 'process.exit(require("node:test/reporters").junit ? 0 : 1)' 2>/dev/null; then
  flags+=(--test-reporter=junit --test-reporter-destination="$GRAPHMAILER_JUNIT_DIR/node.xml")
fi
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] && flags+=(--test-timeout=180000)
node --test "${flags[@]}" test/*.test.mjs 2>&1 | tee "$log" || status=$?
count() { grep -E "^# $1 [0-9]+" "$log" | tail -1 | grep -Eo '[0-9]+$' || echo 0; }
passed=$(count pass)
failed=$(count fail)
skipped=$(count skipped)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the runner died before counting
fi
echo "node: $skipped skipped"
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
