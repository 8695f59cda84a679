#!/usr/bin/env bash
# The relay against Postfix in one command: builds graphmailer (release),
# installs Postfix from Debian's packages if it is missing (its own service is
# neither configured nor started), runs both servers with the same SMTP load
# and prints one table (bench/README.md, "The relay against Postfix"). Not part
# of the test suite.
#
#   bench/relay/run.sh [--seconds S] [--clients N] [--sizes B,B] [--idle N] [--only relay|postfix] [--no-build]
#
# Needs root: Postfix's daemons start as root and drop to the postfix user.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TERM_COLOR=never

do_build=1
args=()
for arg in "$@"; do
  if [ "$arg" = --no-build ]; then do_build=0; else args+=("$arg"); fi
done

step() { echo "== $*" >&2; }

if [ "$do_build" = 1 ]; then
  step "building graphmailer (release)"
  (cd "$root" && cargo build --release -p graphmailer-cli)
fi
binary="$CARGO_TARGET_DIR/release/graphmailer"
[ -x "$binary" ] || binary="$CARGO_TARGET_DIR/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}/release/graphmailer"
[ -x "$binary" ] || { echo "no release build of graphmailer under $CARGO_TARGET_DIR" >&2; exit 1; }

# Postfix installed here is removed at the end: its package takes
# /usr/sbin/sendmail, which graphmailer's own package and tests expect to hold.
if ! command -v postfix >/dev/null; then
  trap 'step "removing the postfix this run installed"; DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq postfix >/dev/null' EXIT
  step "installing postfix (No configuration: the system's own instance stays off)"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  # A policy-rc.d that says no keeps the package's scripts from starting the
  # system's service, as on a container; one already there is left alone.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix
  [ -n "$policy" ] && rm -f "$policy"
fi

# 500 idle sessions and 16 busy ones, on both sides of the socket.
ulimit -n 8192
mkdir -p "$here/build"
python3 "$here/run.py" --graphmailer "$binary" --json "$here/build/results.json" "${args[@]}"
