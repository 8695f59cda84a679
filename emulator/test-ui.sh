#!/usr/bin/env bash
# The emulator's web inbox in headless Chromium (Debian's chromium, driven
# through the DevTools protocol from Python). Installs what it needs; saves
# screenshots under target/test-logs/; the last line is "N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export CARGO_BUILD_TARGET
target_dir=${CARGO_TARGET_DIR:-$root/target}
logs="$root/target/test-logs"
mkdir -p "$logs"

if ! command -v chromium >/dev/null; then
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
venv="$here/tests/ui/.venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import websockets' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'websockets==15.0.1'
fi
# scripts/test.sh installs every suite's needs at its start, with --install.
[ "${1:-}" != --install ] || exit 0

# Built already when scripts/test.sh says so (GRAPHMAILER_DEBUG_BUILT).
[ -n "${GRAPHMAILER_DEBUG_BUILT:-}" ] || cargo build -q -p graphmailer-cli
export GRAPHMAILER_BIN="$target_dir/$CARGO_BUILD_TARGET/debug/graphmailer"
"$venv/bin/python" "$here/tests/ui/test_inbox.py" "$logs"
