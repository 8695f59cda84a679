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
# On CI every run is a fresh clone, so incremental caches are written and never
# read, and full debug information for our own crates (dependencies have none,
# see Cargo.toml) is a large share of their compile and link time; line tables
# keep every backtrace's file and line.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0} CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}
fi
logs="$root/target/test-logs"
mkdir -p "$logs"
# A full run from a fresh clone writes about 5 GB under target/ and the
# suites' folders; with less free, builds fail midway with "No space left on
# device", which says nothing of the cause at the end. Say it first.
free_kb=$(df -Pk "$root/target" | awk 'NR == 2 {print $4}')
if [ "${free_kb:-0}" -lt $((6 * 1024 * 1024)) ]; then
  echo "=== warning: $((free_kb / 1024 / 1024)) GB free for target/; a full run from a fresh clone writes about 5 GB"
fi
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

# Installing is mostly waiting on the network and the disk, so every suite's
# installs (Debian packages, pip, npm) start at once, in the background, one
# suite after another (apt allows one at a time), while the checks compile.
# Each suite waits for its own before it starts; its own install step then
# finds everything present, and still installs (or fails visibly) what the
# background could not. (Node's comes before the release check's, which
# needs Node's npm packages too: the other way round, the release check's
# took as long as both and started the release no sooner.)
install_steps=(
  "tools scripts/release-tools.sh install"
  "postgres scripts/with-postgres.sh --install"
  "node node/test.sh --install"
  "release scripts/release-check.sh --install"
  "clients tests/clients/test.sh --install"
  "relay relay/test.sh --install"
  "ui emulator/test-ui.sh --install"
  "python python/test.sh --install"
  "c ffi/test.sh --install"
)
rm -f "$logs"/install-*
(
  for step in "${install_steps[@]}"; do
    read -r name command <<<"$step"
    started=$SECONDS
    # shellcheck disable=SC2086 # the command's words
    if $command >"$logs/install-$name.log" 2>&1; then result=ok; else result=failed; fi
    echo "$result $((SECONDS - started))" >"$logs/install-$name.done"
  done
) </dev/null &
installs_pid=$!
echo "=== installing every suite's needs in the background (target/test-logs/install-*.log)"
# installed SUITE: waits for SUITE's installs; after a failed one, for all of
# them, so the suite's own retry does not meet apt's lock.
installed() {
  local done="$logs/install-$1.done"
  while [ ! -e "$done" ] && kill -0 "$installs_pid" 2>/dev/null; do sleep 1; done
  if [ -e "$done" ] && [ "$(cut -d' ' -f1 "$done")" = ok ]; then return; fi
  echo "=== the background installs for $1 failed (target/test-logs/install-$1.log); the suite tries itself"
  wait "$installs_pid" 2>/dev/null || true
}

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

# finish SUITE STATUS STARTED: counts a suite that ended with STATUS.
finish() {
  local suite=$1 status=$2 started=$3
  count "$suite" "$logs/$suite.log"
  if [ "$status" -ne 0 ]; then
    failures+=("$suite")
    # A suite that failed with no failed test in its counts (it died before
    # its runner counted, or failed after it) still counts as a failure.
    grep -Eq '(^|[^0-9])[1-9][0-9]* failed|fail [1-9]' "$logs/$suite.log" || failed=$((failed + 1))
  fi
  stage_times+=("$suite $((SECONDS - started))s")
  echo "=== $suite took $((SECONDS - started)) s"
}

# waits for the installs a suite needs (the Rust tests: PostgreSQL).
installs_for() {
  case $1 in checks | build) ;; rust) installed postgres ;; *) installed "$1" ;; esac
}

run() {
  local suite=$1 started=$SECONDS; shift
  installs_for "$suite"
  echo "=== $suite: $*"
  rm -f "$logs/$suite.xml" "$logs/$suite"-*.xml
  "$@" 2>&1 | tee "$logs/$suite.log"
  local status=${PIPESTATUS[0]}
  finish "$suite" "$status" "$started"
  return "$status"
}

# in_lane SUITE COMMAND...: runs a suite as `run` does but into its log
# alone, and writes its status and time beside it; `report` then prints and
# counts it. The lanes below run suites this way side by side, and
# in_background one behind them all.
in_lane() {
  local suite=$1 started=$SECONDS status=0; shift
  installs_for "$suite"
  rm -f "$logs/$suite.xml" "$logs/$suite"-*.xml "$logs/$suite.status"
  "$@" >"$logs/$suite.log" 2>&1 </dev/null || status=$?
  echo "$status $((SECONDS - started))" >"$logs/$suite.status"
}
report() {
  local suite=$1 status=1 seconds=0; shift
  echo "=== $suite: $*"
  cat "$logs/$suite.log" 2>/dev/null
  # An empty status file (the disk filled as it was written) counts as a failure.
  read -r status seconds 2>/dev/null <"$logs/$suite.status" || echo "=== $suite ended without a status"
  finish "$suite" "${status:-1}" $((SECONDS - ${seconds:-0}))
}

# in_background SUITE COMMAND...: runs a suite as in_lane does, at the
# lowest CPU and disk priority, so it takes only what the suites in front
# leave idle; `collect` waits for it, then prints and counts it.
in_background() {
  background=("$@")
  echo "=== $1, in the background at the lowest priority: ${*:2}"
  rm -f "$logs/$1.status"
  (
    renice -n 19 -p "$BASHPID" >/dev/null
    ionice -c 3 -p "$BASHPID"
    in_lane "$@"
  ) &
  background_pid=$!
}
collect() {
  wait "$background_pid"
  report "${background[@]}"
}

checks() {
  scripts/module-cycles.sh >/dev/null &&
  cargo fmt --all -- --check &&
  clippy_denies_lints
}
# The Rust stage's lints are enforced only while clippy-driver reads
# CLIPPY_ARGS as `cargo clippy` passes it (below); a canary with one lint
# (clippy::needless_return) must fail with them, or the stage fails here.
clippy_denies_lints() {
  local dir status=0
  dir=$(mktemp -d)
  printf 'pub fn canary() -> u32 {\n    return 1;\n}\n' >"$dir/canary.rs"
  if "$RUSTC_WORKSPACE_WRAPPER" "$sysroot/bin/rustc" --edition 2021 --crate-type lib \
    --emit=metadata --out-dir "$dir" "$dir/canary.rs" >"$dir/out" 2>&1 || ! grep -q needless_return "$dir/out"; then
    echo "clippy-driver with CLIPPY_ARGS=$CLIPPY_ARGS let clippy::needless_return pass: the Rust stage would not enforce lints"
    cat "$dir/out"
    status=1
  fi
  rm -rf "$dir"
  return "$status"
}

# Clippy (-D warnings) lints inside the Rust stage's build rather than in a
# check build of its own: what `cargo clippy` does, clippy-driver as the
# workspace's rustc wrapper, but for `cargo test`, which builds what
# `cargo clippy --workspace --all-targets` checks (libraries, binaries, tests
# and examples; the workspace has no benches). Dependencies then compile once,
# not once checked and once built. Every debug build after it keeps the same
# wrapper, so cargo finds the workspace's crates current.
sysroot=$(rustc --print sysroot)
RUSTC_WORKSPACE_WRAPPER="$sysroot/bin/clippy-driver"
CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__ # `-- -D warnings`, as cargo clippy passes it
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
run checks checks
# Every build of the suite links for glibc 2.17 through zig, as the release
# does (scripts/release-tools.sh): the release stage below then packages
# this build instead of compiling the workspace a second time, which took a
# third of the suite's CPU; and the tests run binaries linked as the
# release's are. The tools are the first of the background installs; the
# crates download while they install.
cargo fetch --locked >"$logs/fetch.log" 2>&1 || cat "$logs/fetch.log"
installed tools
if scripts/release-tools.sh zig-env >"$logs/zig-env" 2>"$logs/zig-env.log" ||
  { scripts/release-tools.sh install && scripts/release-tools.sh zig-env >"$logs/zig-env"; } >>"$logs/zig-env.log" 2>&1; then
  mapfile -d '' zig_env <"$logs/zig-env"
  export "${zig_env[@]}"
else
  echo "=== no zig for the suite's build (target/test-logs/zig-env.log): the release stage will fail"
  cat "$logs/zig-env.log"
fi
# The workspace's build, first and whole: the tests' binaries, and with
# them the debug emulator and command line, which the later stages use
# (GRAPHMAILER_DEBUG_BUILT) instead of `cargo build -p` of one package,
# which cargo resolves with that package's smaller feature set and so
# compiles about 90 crates a second time; and the libraries' own artefacts
# (libgraphmailer.so and .a for the C stage, the Node addon) with the same
# features (--tests keeps the dev-dependencies'). The Python extension is
# left out: maturin compiles it and pyo3 again anyway (its PYO3_* variables
# are part of pyo3's build), and workspace-features keeps every shared
# dependency's features as they were. `cargo test` below then compiles
# nothing (the stage says so if it does).
run build cargo build --workspace --exclude graphmailer-python --locked --lib --bins --tests --examples &&
  export GRAPHMAILER_DEBUG_BUILT=1
# The release stage packages that build (GRAPHMAILER_RELEASE_PROFILE=dev:
# the debug profile, not for publishing), installs each artifact where no
# Rust is on PATH and uses it against the emulator. It runs in the
# background at the lowest priority from here on, so it takes what the Rust
# tests leave idle (a third of both cores: they run one binary at a time),
# and is counted last. Cargo's lock on the target folder is free while
# tests run, so its builds (the addon again for napi, the wheel) do not wait
# for them. What it proves is how the artifacts are packaged, linked (glibc
# 2.17, sonames, static link) and installed, and that each sends, none of
# which the optimiser changes; scripts/release-check.sh run alone checks the
# build that is published. It reads node/index.d.ts, which Node's suite
# regenerates, but napi writes that file atomically and, unless the sources
# changed, the same. Nothing in it may start a session of its own (setsid):
# the kernel's autogroups would then split the CPU evenly with the suites,
# whatever the nice value.
# Its Debian check installs the package, and with it
# /etc/graphmailer/graphmailer.toml, which the command line's `sendmail`
# reads when GRAPHMAILER_CONFIG is not set, as in the Rust tests: that check
# waits until they are done (GRAPHMAILER_RELEASE_DEB_AFTER names a file that
# exists from then on).
export GRAPHMAILER_RELEASE_DEB_AFTER="$logs/rust.finished"
rm -f "$GRAPHMAILER_RELEASE_DEB_AFTER"
in_background release env GRAPHMAILER_RELEASE_PROFILE=dev scripts/release-check.sh
# The outbox's PostgreSQL tests run against a private cluster the script starts.
run rust scripts/with-postgres.sh cargo test --workspace --locked
touch "$GRAPHMAILER_RELEASE_DEB_AFTER"
scripts/reused-build.sh "$logs/rust.log"
# The bindings' and clients' suites, in two lanes side by side: each suite
# keeps about one core busy (a runner and the emulator it talks to), so one
# after another they left the other core to the release stage, which now
# needs little. Each starts its own emulator on a port of its own; their
# builds (napi's, maturin's) take turns on cargo's lock. The output comes
# suite by suite when both lanes are done.
declare -A suite_commands=(
  [node]=node/test.sh
  [clients]=tests/clients/test.sh
  # The relay's Rust tests ran with the workspace above; this adds real SMTP clients.
  [relay]="relay/test.sh --no-cargo"
  [ui]=emulator/test-ui.sh
  [python]=python/test.sh
  [c]=ffi/test.sh
)
lanes=("node clients relay ui" "python c")
lane_pids=()
for lane in "${lanes[@]}"; do
  # shellcheck disable=SC2086 # the suites' names, and each command's words
  (for suite in $lane; do in_lane "$suite" ${suite_commands[$suite]}; done) &
  lane_pids+=($!)
done
echo "=== in two lanes: ${lanes[0]} | ${lanes[1]}"
wait "${lane_pids[@]}"
for lane in "${lanes[@]}"; do
  # shellcheck disable=SC2086 # as above
  for suite in $lane; do report "$suite" ${suite_commands[$suite]}; done
done
collect

install_times=()
for step in "${install_steps[@]}"; do
  name=${step%% *}
  [ -e "$logs/install-$name.done" ] && install_times+=("$name $(cut -d' ' -f2 "$logs/install-$name.done")s")
done
echo "background installs: ${install_times[*]}"
echo "stage times: ${stage_times[*]}; total $SECONDS s"
if [ ${#failures[@]} -gt 0 ]; then
  echo "failed suites: ${failures[*]}"
  if grep -lq 'No space left on device' "$logs"/*.log 2>/dev/null; then
    echo "the disk filled during the run: free space for target/ (df -h target) and run again"
  fi
fi
echo "all suites: $passed passed, $failed failed"
[ ${#failures[@]} -eq 0 ] && [ "$failed" -eq 0 ]
