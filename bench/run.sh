#!/usr/bin/env bash
# The benchmark in one command: builds every client (release), starts the fake
# Graph server pinned to one core, runs each client pinned to the other, and
# prints one table (bench/README.md explains the figures). Not part of the test
# suite. A piece that cannot be built shows "n/a" in the table.
#
#   bench/run.sh [--serial N] [--parallel N] [--cold-runs N] [--only NAMES] [--no-build]
#
# Needs root (or the packages already present) for libcurl's headers.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TERM_COLOR=never
release="$CARGO_TARGET_DIR/$CARGO_BUILD_TARGET/release"
build="$here/build"
mkdir -p "$build"
log="$build/build.log"
: >"$log"

do_build=1
for arg in "$@"; do [ "$arg" = --no-build ] && do_build=0; done
args=()
for arg in "$@"; do [ "$arg" != --no-build ] && args+=("$arg"); done

step() { echo "== $*" >&2; }
# A step that may fail: the table then shows n/a for what it would have built.
optional() {
  if ! "$@" >>"$log" 2>&1; then
    echo "   (failed: $*; see $log)" >&2
  fi
}

if [ "$do_build" = 1 ]; then
  if [ ! -f /usr/include/x86_64-linux-gnu/curl/curl.h ] && [ ! -f /usr/include/curl/curl.h ]; then
    step "installing libcurl4-openssl-dev"
    optional sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcurl4-openssl-dev'
  fi
  step "building the fake server, the Rust client and the C library (release)"
  (cd "$root" && cargo build --release -p graphmailer-bench -p graphmailer-ffi) || exit 1

  step "building the C clients"
  optional gcc -std=c11 -O2 -pthread "$here/curl_client.c" -lcurl -o "$build/curl_client"
  if [ -f "$release/libgraphmailer.so" ]; then
    cp "$release/libgraphmailer.so" "$build/"
    soname=$(readelf -d "$release/libgraphmailer.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
    [ -n "$soname" ] && ln -sf libgraphmailer.so "$build/$soname"
    optional gcc -std=c11 -O2 -pthread -I "$root/ffi/include" "$here/graphmailer_c_client.c" \
      -L "$build" -lgraphmailer -Wl,-rpath,"$build" -o "$build/graphmailer_c_client"
  fi

  step "Python: a virtual environment with requests, Microsoft's clients and graphmailer (release)"
  [ -x "$here/.venv/bin/python" ] || optional python3 -m venv "$here/.venv"
  # Microsoft's clients at the versions tests/clients pins.
  optional "$here/.venv/bin/pip" install -q --disable-pip-version-check maturin==1.16.0 'requests==2.32.5' \
    'msal==1.39.0' 'azure-identity==1.27.0' 'msgraph-sdk==1.65.0'
  optional sh -c "cd '$root/python' && VIRTUAL_ENV='$here/.venv' PATH='$here/.venv/bin:$PATH' maturin develop --release --quiet"

  step "Node: graphmailer's addon (release) and msal-node"
  if [ ! -x "$root/node/node_modules/.bin/napi" ]; then
    optional sh -c "cd '$root/node' && npm install --no-audit --no-fund --silent"
  fi
  # The type declarations go to the build folder: the package's own are not
  # ours to rewrite. napi joins --dts to its working folder even when it is
  # absolute, so it is given relative to node/.
  dts="$(realpath --relative-to="$root/node" "$build")/index.d.ts"
  optional sh -c "cd '$root/node' && node_modules/.bin/napi build --platform --release --strip --js binding.js --dts '$dts'"
  if [ ! -d "$root/tests/clients/node_modules/@azure/msal-node" ]; then
    optional sh -c "cd '$root/tests/clients' && npm install --no-audit --no-fund --silent"
  fi
fi

step "starting the fake Graph server on core 0"
fifo=$(mktemp -u)
mkfifo "$fifo"
taskset -c 0 "$release/fake-graph" --threads 2 >"$fifo" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$fifo"' EXIT
exec 3<"$fifo"
read -r banner <&3
url=$(printf '%s' "$banner" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
ca=$(printf '%s' "$banner" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ca_file"])')

step "running the clients on core 1"
taskset -c 1 python3 "$here/run.py" --url "$url" --ca-file "$ca" --json "$build/results.json" "${args[@]}"
