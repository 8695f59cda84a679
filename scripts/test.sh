#!/usr/bin/env bash
# Every test of the project, from a fresh clone: Rust (format, lints, unit and
# integration tests against the emulator), then the Python, Node and C suites,
# each of which installs what it needs. Ends with one line that adds them up.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# One explicit target for cargo, maturin and napi alike, so the bindings reuse
# one build instead of compiling everything twice (napi always passes --target).
CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export CARGO_BUILD_TARGET CARGO_TERM_COLOR=never
logs="$root/target/test-logs"
mkdir -p "$logs"
# The suites whose runners write JUnit XML (pytest, node --test) put it here,
# as SUITE.xml or SUITE-PART.xml; their counts are read from it.
export GRAPHMAILER_JUNIT_DIR=$logs

# The certificate tests make their keys with the openssl command, as an
# administrator would; install it when a minimal machine lacks it.
if ! command -v openssl >/dev/null; then
  echo "=== installing openssl"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq openssl >/dev/null
fi

passed=0
failed=0
failures=()
# "suite seconds" per stage, printed with the total before the last line.
stage_times=()

# Adds a suite's counts: from its runners' JUnit XML when they wrote one, else
# from their own summary lines.
count() {
  local suite=$1 log=$2 p=0 f=0 junit
  mapfile -t junit < <(compgen -G "$logs/$suite.xml"; compgen -G "$logs/$suite-*.xml")
  if ((${#junit[@]})); then
    read -r p f < <(python3 scripts/junit-count.py "${junit[@]}")
  else case $suite in
    rust)
      p=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
      f=$(grep -Eo '; [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}') ;;
    python)
      p=$(tail -n 3 "$log" | grep -Eo '[0-9]+ passed' | tail -1 | awk '{print $1+0}')
      f=$(tail -n 3 "$log" | grep -Eo '[0-9]+ (failed|error)' | awk '{s+=$1} END {print s+0}') ;;
    node)
      p=$(grep -E '^(# |ℹ )pass [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$')
      f=$(grep -E '^(# |ℹ )fail [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$') ;;
    c|clients|relay|ui|release)
      p=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | awk '{print $1}')
      f=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | awk '{print $3}') ;;
  esac; fi
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
}

run() {
  local suite=$1 started=$SECONDS; shift
  echo "=== $suite: $*"
  rm -f "$logs/$suite.xml" "$logs/$suite"-*.xml
  if "$@" 2>&1 | tee "$logs/$suite.log"; then
    count "$suite" "$logs/$suite.log"
  else
    count "$suite" "$logs/$suite.log"
    failures+=("$suite")
    # A suite that died before its runner counted anything still counts as a failure.
    grep -Eq '[0-9]+ failed|fail [1-9]' "$logs/$suite.log" || failed=$((failed + 1))
  fi
  stage_times+=("$suite $((SECONDS - started))s")
  echo "=== $suite took $((SECONDS - started)) s"
}

checks() {
  scripts/module-cycles.sh >/dev/null &&
  cargo fmt --all -- --check &&
  cargo clippy --workspace --all-targets --locked -- -D warnings
}

run checks checks
# The outbox's PostgreSQL tests run against a private cluster the script starts.
run rust scripts/with-postgres.sh cargo test --workspace --locked
# That build made the debug emulator and command line too, from the same
# sources; the later stages use them (GRAPHMAILER_DEBUG_BUILT) instead of
# `cargo build -p` of one package, which cargo resolves with that package's
# smaller feature set and so compiles about 90 crates a second time. The
# libraries' own artefacts (libgraphmailer.so and .a for the C stage) are
# added here with the same features: --tests keeps the dev-dependencies'
# features, so only the four library crates compile, where
# `cargo build -p graphmailer-ffi` compiled 45. The no-op test build proves
# the rest is current (it fails when the build did).
if cargo build --workspace --locked --lib --bins --tests >"$logs/rust-current.log" 2>&1 &&
  cargo test --workspace --locked --no-run >>"$logs/rust-current.log" 2>&1; then
  export GRAPHMAILER_DEBUG_BUILT=1
fi
run clients tests/clients/test.sh
# The relay's Rust tests ran with the workspace above; this adds real SMTP clients.
run relay relay/test.sh --no-cargo
run ui emulator/test-ui.sh
for suite in python node c; do
  dir=$suite; [ "$suite" = c ] && dir=ffi
  if [ -x "$dir/test.sh" ]; then
    run "$suite" "$dir/test.sh"
  else
    echo "=== $suite: not built yet (no $dir/test.sh)"
  fi
done

# Last, as it adds a release build: every artifact of scripts/release.sh
# installed where no Rust is on PATH, and used against the emulator.
run release scripts/release-check.sh

echo "stage times: ${stage_times[*]}; total $SECONDS s"
if [ ${#failures[@]} -gt 0 ]; then
  echo "failed suites: ${failures[*]}"
fi
echo "all suites: $passed passed, $failed failed"
[ ${#failures[@]} -eq 0 ] && [ "$failed" -eq 0 ]
