#!/usr/bin/env bash
# The Python package's checks and tests, from a clean machine: a virtual
# environment with pinned tools, the package built into it from this
# workspace (reusing target/), ruff, mypy --strict (package stub, tests,
# examples, bench), stubtest (the stub matches the built module), and pytest
# against the real emulator. The last line is pytest's summary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$here"

export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}
export CARGO_TERM_COLOR=never

python=${PYTHON:-python3}
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# Versions pinned in one place: pyproject.toml's "test" extra (maturin as proved
# in the toolchain notes).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  maturin==1.16.0 pytest==9.2.0 mypy==2.4.1 ruff==0.17.6

# The certificate tests make their keys with openssl.
if ! command -v openssl >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq openssl >/dev/null
  fi
fi
# scripts/test.sh installs every suite's needs at its start, with --install.
[ "${1:-}" != --install ] || exit 0

# The emulator the tests run against, and the package itself.
# (Built already when scripts/test.sh says so: see GRAPHMAILER_DEBUG_BUILT there.)
[ -n "${GRAPHMAILER_DEBUG_BUILT:-}" ] || (cd "$root" && cargo build --quiet -p graphmailer-emulator)
# With the workspace's dependency features (workspace-features/Cargo.toml), so
# that after scripts/test.sh's workspace build little compiles again: the
# extension and pyo3's crates, which that build leaves to this one (pyo3's
# build reads which Python it is for).
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" "$venv/bin/maturin" develop --features workspace-features 2>&1 | tee "$build_log"
[ -z "${GRAPHMAILER_DEBUG_BUILT:-}" ] || "$root/scripts/reused-build.sh" "$build_log" @python graphmailer-workspace-features
rm -f "$build_log"

"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"
"$venv/bin/python" -m mypy.stubtest graphmailer._graphmailer --allowlist stubtest-allowlist.txt

export GRAPHMAILER_EMULATOR="$root/target/$CARGO_BUILD_TARGET/debug/graphmailer-emulator"
# scripts/test.sh counts the results from pytest's JUnit XML.
junit=()
[ -z "${GRAPHMAILER_JUNIT_DIR:-}" ] || junit=(--junitxml "$GRAPHMAILER_JUNIT_DIR/python.xml")
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "${junit[@]}" tests
