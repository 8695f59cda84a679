#!/usr/bin/env bash
# Sends/second through the C library against the same from Rust: starts one
# emulator, runs bench/bench.c (threads sharing one mailer, release build of
# libgraphmailer) and the core's send_throughput example with the same N and
# C, and prints both figures and their ratio.
#   ffi/bench/bench.sh [COUNT] [CONCURRENCY]      (default 2000 16)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
COUNT="${1:-2000}"
CONCURRENCY="${2:-16}"
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}"
OUT="$ROOT/target/$CARGO_BUILD_TARGET"
BUILD="$ROOT/ffi/build/bench"
mkdir -p "$BUILD"

(cd "$ROOT" && cargo build --release -p graphmailer-ffi && cargo build --release -p graphmailer --example send_throughput \
    && cargo build -p graphmailer-emulator) >&2
gcc -std=c11 -O2 -pthread -I "$ROOT/ffi/include" "$HERE/bench.c" -L "$OUT/release" -lgraphmailer \
    -Wl,-rpath,"$BUILD" -o "$BUILD/bench"
# the soname the library was linked with
cp "$OUT/release/libgraphmailer.so" "$BUILD/"
soname="$(readelf -d "$OUT/release/libgraphmailer.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')"
ln -sf libgraphmailer.so "$BUILD/$soname"

banner="$BUILD/emulator.out"
"$OUT/debug/graphmailer-emulator" --http --port 0 >"$banner" 2>/dev/null &
emulator=$!
trap 'kill $emulator 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do [ -s "$banner" ] && break; sleep 0.05; done
line="$(head -n 1 "$banner")"
field() { printf '%s' "$line" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
url="$(field url)"
export AZURE_TENANT_ID="$(field tenant_id)" AZURE_CLIENT_ID="$(field client_id)"
export AZURE_CLIENT_SECRET="$(field client_secret)" AZURE_AUTHORITY_HOST="$url" GRAPHMAILER_GRAPH_ENDPOINT="$url"

c_json="$("$BUILD/bench" --count "$COUNT" --concurrency "$CONCURRENCY")"
rust_json="$("$OUT/release/examples/send_throughput" --count "$COUNT" --concurrency "$CONCURRENCY")"
rate() { printf '%s' "$1" | sed -n 's/.*"sends_per_sec":\([0-9.]*\).*/\1/p'; }
echo "C (libgraphmailer, $CONCURRENCY threads): $c_json"
echo "Rust (send_throughput, $CONCURRENCY tasks): $rust_json"
awk -v c="$(rate "$c_json")" -v r="$(rate "$rust_json")" 'BEGIN { printf "C / Rust: %.2f\n", c / r }'
