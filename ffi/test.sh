#!/usr/bin/env bash
# Builds libgraphmailer and runs every test of the C library:
#   - cargo test -p graphmailer-ffi (unit tests, and the header-drift test
#     that fails when include/graphmailer.h differs from a fresh generation);
#   - `make install` into a private prefix, then the header compiled as C99,
#     C11, C++11 and C++17, pkg-config, and examples/send.c built with
#     `cc $(pkg-config --cflags --libs graphmailer)` (and statically);
#   - the C tests (tests/*.c, compiled with gcc against the installed library)
#     against the real emulator, three times: plain, under AddressSanitizer +
#     UndefinedBehaviorSanitizer, and under valgrind (no leak, no invalid
#     access). The shared scenarios (tests/scenarios.json) and the 20 MB
#     attachment run in the first two; valgrind, twenty times slower, runs
#     the rest, in two halves at once, beside the other two.
# Installs the tools it needs. Its last line is "N passed, N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$HERE/build"
PREFIX="$BUILD/prefix"
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
OUT="$ROOT/target/$CARGO_BUILD_TARGET/debug"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# check NAME COMMAND...: one test that passes when the command succeeds.
check() {
    local name="$1"
    shift
    if "$@" >"$BUILD/last.log" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/    /' "$BUILD/last.log" | tail -30; fi
}
# add_counts LOG: adds the "N passed, N failed" of a runner's last line.
add_counts() {
    local line
    line="$(tail -n 1 "$1")"
    if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
        return 0
    fi
    fail "$1 ended without a summary: $line"
    return 1
}

# ---- tools ------------------------------------------------------------------
missing=()
for tool in gcc g++ make pkg-config openssl valgrind; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# scripts/test.sh installs every suite's needs at its start, with --install.
[ "${1:-}" != --install ] || exit 0

# ---- build ------------------------------------------------------------------
rm -rf "$BUILD"
mkdir -p "$BUILD"
# One package per build, as everyone else builds them, so their artefacts are
# reused instead of rebuilt with a different union of features. When
# scripts/test.sh says so (GRAPHMAILER_DEBUG_BUILT), its workspace build made
# the library, the emulator and the Rust tests already: CARGO=true makes the
# Makefile's build step a no-op.
make_cargo=cargo
if [ -n "${GRAPHMAILER_DEBUG_BUILT:-}" ]; then
    make_cargo=true
else
    (cd "$ROOT" && cargo build -p graphmailer-ffi)
    (cd "$ROOT" && cargo build -p graphmailer-emulator)
fi
make -s -C "$HERE" install CARGO="$make_cargo" PREFIX="$PREFIX" PROFILE=debug TARGET="$CARGO_BUILD_TARGET" >/dev/null
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"

# Throw-away certificates for the certificate tests.
FIX="$BUILD/fixtures"
mkdir -p "$FIX"
(
    cd "$FIX"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 30 \
        -subj "/CN=graphmailer-ffi-test" 2>/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other-key.pem 2>/dev/null
    cat cert.pem key.pem >combined.pem
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -passout pass:pem-pass -out key-enc.pem
    cat cert.pem key-enc.pem >encrypted.pem
    openssl pkcs12 -export -in cert.pem -inkey key.pem -passout pass:p12-pass -out app.p12
    openssl x509 -in cert.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' >thumbprint.txt
)

# ---- Rust-side tests (unit tests, header drift) -------------------------------
# ffi_tests: this crate's Rust tests; the workspace's test executables when
# scripts/test.sh built them (cargo test -p would build them again with this
# package's own features), run from the crate's directory as cargo would.
# Cargo runs without the PKG_CONFIG_PATH exported above: the build scripts of
# aws-lc-sys and libsqlite3-sys rerun when it changes, and everything above
# them (about a hundred crates, aws-lc's C code included) would compile again.
ffi_tests() {
    if [ -z "${GRAPHMAILER_DEBUG_BUILT:-}" ]; then
        (cd "$ROOT" && env -u PKG_CONFIG_PATH cargo test -p graphmailer-ffi)
        return
    fi
    local exe status=0 found=0
    while read -r exe; do
        found=1
        (cd "$HERE" && "$exe") || status=1
    done < <(cd "$ROOT" && env -u PKG_CONFIG_PATH cargo test --workspace --locked --no-run --message-format=json | python3 -c '
import json, os, sys
manifest = os.path.realpath(sys.argv[1])
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"] \
            and os.path.realpath(m["manifest_path"]) == manifest:
        print(m["executable"])' "$HERE/Cargo.toml")
    ((found)) || { echo "no test executable of graphmailer-ffi in the workspace build"; return 1; }
    return $status
}
if ffi_tests >"$BUILD/cargo-test.log" 2>&1; then :; else
    echo "cargo test -p graphmailer-ffi failed:" && tail -40 "$BUILD/cargo-test.log" | sed 's/^/    /'
fi
read -r cargo_passed cargo_failed < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } } END { print p + 0, f + 0 }' "$BUILD/cargo-test.log")
if ! grep -q '^test result:' "$BUILD/cargo-test.log"; then cargo_failed=1; fi
if grep -q "checked_in_header_matches_a_fresh_generation ... ok" "$BUILD/cargo-test.log"; then
    echo "ok   cargo test -p graphmailer-ffi: ${cargo_passed:-0} passed, ${cargo_failed:-0} failed (header drift included)"
else
    echo "FAIL the header-drift test did not pass"
    cargo_failed=$((${cargo_failed:-0} + 1))
fi
passed=$((passed + ${cargo_passed:-0}))
failed=$((failed + ${cargo_failed:-0}))

# ---- header, install, pkg-config, example -------------------------------------
CFLAGS_PC="$(pkg-config --cflags graphmailer)"
LIBS_PC="$(pkg-config --libs graphmailer)"
run_installed() { LD_LIBRARY_PATH="$PREFIX/lib" "$@"; }
check "header compiles as C99 (-pedantic -Werror) and runs" \
    bash -c "gcc -std=c99 -pedantic -Wall -Wextra -Werror '$HERE/tests/header/header_c99.c' $CFLAGS_PC $LIBS_PC -o '$BUILD/header_c99' && LD_LIBRARY_PATH='$PREFIX/lib' '$BUILD/header_c99'"
check "header compiles as C11" \
    gcc -std=c11 -pedantic -Wall -Wextra -Werror -c "$HERE/tests/header/header_c99.c" $CFLAGS_PC -o "$BUILD/header_c11.o"
check "header compiles as C++11 (-pedantic -Werror) and runs" \
    bash -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror '$HERE/tests/header/header_cxx.cpp' $CFLAGS_PC $LIBS_PC -o '$BUILD/header_cxx' && LD_LIBRARY_PATH='$PREFIX/lib' '$BUILD/header_cxx'"
check "header compiles as C++17" \
    g++ -std=c++17 -pedantic -Wall -Wextra -Werror -c "$HERE/tests/header/header_cxx.cpp" $CFLAGS_PC -o "$BUILD/header_cxx17.o"
version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml")"
check "make install: header, .so (soname), .a and graphmailer.pc $version" \
    bash -c "test -f '$PREFIX/include/graphmailer.h' && test -f '$PREFIX/lib/libgraphmailer.a' \
        && test -L '$PREFIX/lib/libgraphmailer.so' && test \"\$(pkg-config --modversion graphmailer)\" = '$version' \
        && readelf -d '$PREFIX/lib/libgraphmailer.so' | grep -q 'SONAME.*libgraphmailer.so.0'"
check "examples/send.c builds with cc \$(pkg-config --cflags --libs graphmailer)" \
    bash -c "cc '$HERE/examples/send.c' \$(pkg-config --cflags --libs graphmailer) -Wl,-rpath,'$PREFIX/lib' -o '$BUILD/send'"
check "examples/send_mime.c builds with cc \$(pkg-config --cflags --libs graphmailer)" \
    bash -c "cc -Wall -Wextra -Werror '$HERE/examples/send_mime.c' \$(pkg-config --cflags --libs graphmailer) -Wl,-rpath,'$PREFIX/lib' -o '$BUILD/send_mime'"
check "examples/send.c links statically (libgraphmailer.a + Libs.private)" \
    bash -c "cc '$HERE/examples/send.c' \$(pkg-config --cflags graphmailer) '$PREFIX/lib/libgraphmailer.a' \
        \$(pkg-config --static --libs-only-l graphmailer | sed 's/-lgraphmailer//') -o '$BUILD/send-static' \
        && ! ldd '$BUILD/send-static' | grep -q graphmailer"
check "no exported symbol lacks the graphmailer_ prefix" \
    bash -c "! nm -D --defined-only '$PREFIX/lib/libgraphmailer.so' | awk '\$2 ~ /[TDB]/ {print \$3}' | grep -v '^graphmailer_' | grep ."

# ---- the C tests against the emulator -----------------------------------------
export GM_EMULATOR="$OUT/graphmailer-emulator"
export GM_FIXTURES="$FIX"
export GM_SCENARIOS="$ROOT/tests/scenarios.json"
export GM_EXAMPLE="$BUILD/send"
export GM_EXAMPLE_STATIC="$BUILD/send-static"
export GM_EXAMPLE_MIME="$BUILD/send_mime"
TEST_SOURCES=("$HERE"/tests/*.c)
# The version the library must report is the workspace's, read above.
TEST_FLAGS=(-std=c99 -Wall -Wextra -Werror -pthread -g -I "$HERE/tests" -DGM_EXPECTED_VERSION="\"$version\"")
gcc "${TEST_FLAGS[@]}" "${TEST_SOURCES[@]}" $CFLAGS_PC $LIBS_PC -Wl,-rpath,"$PREFIX/lib" -o "$BUILD/c-tests"

# The valgrind run is the longest, and valgrind runs a program one thread at
# a time: two valgrinds, each on half the tests (GM_SHARD), start first, in
# the background, and the sanitizer build and the plain and sanitizer runs
# share the cores with them. Each run starts its own emulator on a port of
# its own. The shared scenarios and the 20 MB send are left out under
# valgrind, as they run in the other two.
valgrind_pids=()
for shard in 1 2; do
    GM_QUICK=1 GM_SHARD=$shard/2 valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --child-silent-after-fork=yes \
        --trace-children=no --log-file="$BUILD/valgrind-$shard.txt" "$BUILD/c-tests" -scenarios -20mb \
        >"$BUILD/valgrind-$shard.log" 2>&1 &
    valgrind_pids+=($!)
done
# (|| true: under set -e a failing command in the trap, here killing runs
# that have ended, would become the script's exit status)
trap 'kill "${valgrind_pids[@]}" 2>/dev/null || true' EXIT
gcc "${TEST_FLAGS[@]}" -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
    "${TEST_SOURCES[@]}" $CFLAGS_PC $LIBS_PC -Wl,-rpath,"$PREFIX/lib" -o "$BUILD/c-tests-asan"

echo "== C tests"
"$BUILD/c-tests" 2>&1 | tee "$BUILD/c-tests.log" | grep -v '^ok ' || true
add_counts "$BUILD/c-tests.log" || true

echo "== C tests under AddressSanitizer + UndefinedBehaviorSanitizer"
set +e
ASAN_OPTIONS="detect_leaks=1:exitcode=86:abort_on_error=0" UBSAN_OPTIONS="print_stacktrace=1" \
    "$BUILD/c-tests-asan" >"$BUILD/asan.log" 2>&1
asan_rc=$?
set -e
grep -v '^ok ' "$BUILD/asan.log" | tail -40 || true
add_counts "$BUILD/asan.log" || true
if ((asan_rc == 0)) && ! grep -q "ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error:" "$BUILD/asan.log"; then
    pass "AddressSanitizer and UBSan: no error, no leak"
else
    fail "AddressSanitizer or UBSan reported errors (exit $asan_rc, see $BUILD/asan.log)"
fi

echo "== C tests under valgrind (started above, beside the plain and sanitizer runs)"
for shard in 1 2; do
    set +e
    wait "${valgrind_pids[shard - 1]}"
    valgrind_rc=$?
    set -e
    grep -v '^ok ' "$BUILD/valgrind-$shard.log" | tail -40 || true
    add_counts "$BUILD/valgrind-$shard.log" || true
    if ((valgrind_rc != 99)) && ! grep -q "Invalid \(read\|write\|free\)\|definitely lost\|indirectly lost\|uninitialised" "$BUILD/valgrind-$shard.txt"; then
        pass "valgrind, tests $shard of 2: no invalid read or write, no definite or indirect leak"
    else
        fail "valgrind, tests $shard of 2, reported errors (exit $valgrind_rc):"
        sed 's/^/    /' "$BUILD/valgrind-$shard.txt" | head -60
    fi
done

echo "$passed passed, $failed failed"
((failed == 0))
