#!/usr/bin/env bash
# Builds the release (scripts/release.sh) and proves each artifact installs and
# sends where no Rust is on PATH, against the emulator (the release's own
# `graphmailer emulator`, over plain HTTP on loopback):
#   - C SDK: unpacked into a temporary prefix; a CMake project
#     (find_package(graphmailer), the shared and the static target) and
#     ffi/examples/send.c built with pkg-config, each sends one mail;
#   - Python: a fresh virtual environment per CPython >= 3.9 on the machine,
#     `pip install --no-index` of the wheel into it, one send each;
#   - Node: an empty project, `npm install --offline` of the two tarballs,
#     one send through `require` and one through `import`;
#   - Debian: lintian (no errors), dpkg -i, the files and their modes,
#     `graphmailer --version`, /usr/sbin/sendmail sends, dpkg --purge leaves
#     nothing behind.
# Installs what it needs (apt: lintian, cmake, pkg-config, gcc, dpkg-dev).
# With GRAPHMAILER_RELEASE_PROFILE=dev (scripts/test.sh), release.sh
# packages the test suite's debug build instead of building the release.
# Prints the time release.sh took; the last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
target_dir=${CARGO_TARGET_DIR:-$root/target}
work="$target_dir/release-check"
rm -rf "$work"
mkdir -p "$work"
started=$SECONDS

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# check NAME COMMAND...: one test, passed when the command succeeds.
# (A lane of checks that runs beside another has a last_log of its own.)
last_log="$work/last.log"
check() {
  local name=$1
  shift
  if "$@" >"$last_log" 2>&1; then pass "$name"; else
    fail "$name"
    sed 's/^/    /' "$last_log" | tail -30
  fi
}
# waited PID LOG: a background job's status, and its output.
waited() { local status=0; wait "$1" || status=$?; cat "$2"; return "$status"; }
# lane NAME FUNCTION: runs FUNCTION's checks in the background, beside the
# others, with a last_log of its own; collect NAME then prints their lines
# and adds their counts. The install tests are mostly one process at a time
# each (CMake, dpkg, a send), so the lanes share the cores.
declare -A lanes
lane() {
  (
    last_log="$work/$1-last.log" passed=0 failed=0
    "$2"
    echo "$passed $failed" >"$work/$1.counts"
  ) >"$work/$1.out" 2>&1 &
  lanes[$1]=$!
}
collect() {
  local lane_passed lane_failed
  wait "${lanes[$1]}"
  cat "$work/$1.out"
  if read -r lane_passed lane_failed 2>/dev/null <"$work/$1.counts"; then
    passed=$((passed + lane_passed)) failed=$((failed + lane_failed))
  else
    fail "the $1 checks ended before counting (see above)"
  fi
}
finish() {
  echo "release-check took $((SECONDS - started)) s (release.sh ${release_secs:-?} s)"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

# ---- tools ---------------------------------------------------------------------
missing=()
for tool in lintian cmake pkg-config gcc make dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  pkgs=("${missing[@]/dpkg-shlibdeps/dpkg-dev}")
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
# scripts/test.sh installs every suite's needs at its start, with --install.
if [ "${1:-}" = --install ]; then
  exec scripts/release.sh --install
fi

# ---- build ---------------------------------------------------------------------
echo "== scripts/release.sh"
release_start=$SECONDS
if scripts/release.sh 2>&1 | tee "$work/release.log"; then
  release_secs=$((SECONDS - release_start))
  pass "release.sh builds dist/ ($release_secs s)"
else
  release_secs=$((SECONDS - release_start))
  fail "release.sh (see $work/release.log)"
  finish
fi
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
dist="$root/dist"
gm="$target_dir/release-stage/deb/root/usr/bin/graphmailer" # what scripts/release.sh packaged

check "SHA256SUMS matches every artifact" bash -c "cd '$dist' && sha256sum --strict -c SHA256SUMS && [ \$(wc -l <SHA256SUMS) -eq \$(ls | grep -vc SHA256SUMS) ]"
check "the SBOM is CycloneDX with the Rust dependencies (tokio, reqwest)" python3 - "$dist/graphmailer-$version-sbom.cdx.json" <<'EOF'
import json, sys
bom = json.load(open(sys.argv[1]))
assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
names = {c["name"] for c in bom["components"]}
assert {"tokio", "reqwest", "rustls"} <= names, names
assert all(c["purl"].startswith("pkg:cargo/") and c.get("licenses") for c in bom["components"])
EOF

# The oldest glibc the artifacts promise (README.md's install table).
glibc=2.17
check "every binary in every artifact needs glibc $glibc at most" python3 - "$dist" "$work/glibc" "$glibc" <<'EOF'
import os, re, subprocess, sys, tarfile, zipfile
dist, unpacked = sys.argv[1], sys.argv[2]
oldest = tuple(map(int, sys.argv[3].split(".")))
for name in sorted(os.listdir(dist)):
    archive, into = os.path.join(dist, name), os.path.join(unpacked, name)
    if name.endswith(".whl"):
        zipfile.ZipFile(archive).extractall(into)
    elif name.endswith((".tar.gz", ".tgz")):
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tarfile.open(archive).extractall(into, **safe)
    elif name.endswith(".deb"):
        subprocess.run(["dpkg-deb", "-x", archive, into], check=True)
needs = {}
for folder, _, files in os.walk(unpacked):
    for file in files:
        path = os.path.join(folder, file)
        if os.path.islink(path):
            continue
        with open(path, "rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
        symbols = subprocess.run(["objdump", "-T", path], capture_output=True, text=True, check=True).stdout
        versions = [tuple(map(int, v.split("."))) for v in re.findall(r"\bGLIBC_([0-9]+(?:\.[0-9]+)+)\b", symbols)]
        needs[os.path.relpath(path, unpacked)] = max(versions, default=(0,))
for path, version in sorted(needs.items()):
    print(f"{path}: GLIBC_{'.'.join(map(str, version))}")
# The C SDK's .so, the wheel's extension, the Node addon and the command line.
assert len(needs) >= 4, f"expected 4 binaries, found {sorted(needs)}"
too_new = sorted(path for path, version in needs.items() if version > oldest)
assert not too_new, f"these need a glibc newer than {sys.argv[3]}: {too_new}"
EOF

# ---- what the install tests share ------------------------------------------------
# PATH without any directory that holds cargo or rustc.
norust_path=
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  [ -x "$dir/cargo" ] || [ -x "$dir/rustc" ] || norust_path+="${norust_path:+:}$dir"
done
norust() { env -u CARGO_HOME -u RUSTUP_HOME -u CARGO_TARGET_DIR PATH="$norust_path" "$@"; }
check "no cargo or rustc on the install tests' PATH" bash -c "! PATH='$norust_path' command -v cargo && ! PATH='$norust_path' command -v rustc"

# The emulator, from the release's own binary; its first stdout line is its
# banner (URL and the default app's credentials).
exec {emulator_fd}< <(exec "$gm" emulator --http --port 0 2>"$work/emulator.log")
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null' EXIT
if ! read -r -t 60 banner <&"$emulator_fd"; then
  fail "the emulator started (no banner, see $work/emulator.log)"
  finish
fi
# Keep its stdout drained so it never blocks on a full pipe.
cat <&"$emulator_fd" >/dev/null &
read -r url tenant client secret < <(python3 -c 'import json, sys; b = json.loads(sys.argv[1]); print(b["url"], b["tenant_id"], b["client_id"], b["client_secret"])' "$banner")
export AZURE_TENANT_ID=$tenant AZURE_CLIENT_ID=$client AZURE_CLIENT_SECRET=$secret
export AZURE_AUTHORITY_HOST=$url GRAPHMAILER_GRAPH_ENDPOINT=$url
sender=erp@contoso.test
# delivered SUBJECT: the emulator has accepted a mail with this subject.
delivered() {
  python3 - "$url" "$1" <<'EOF'
import json, sys, urllib.request
messages = json.load(urllib.request.urlopen(sys.argv[1] + "/_emulator/messages"))["messages"]
subjects = [(m.get("message") or {}).get("subject") for m in messages]
sys.exit(0 if sys.argv[2] in subjects else f"no mail with subject {sys.argv[2]!r} among {subjects}")
EOF
}
# sends NAME SUBJECT COMMAND...: the command succeeds and the mail arrived.
sends() {
  local name=$1 subject=$2
  shift 2
  if "$@" >"$last_log" 2>&1 && delivered "$subject" >>"$last_log" 2>&1; then pass "$name"; else
    fail "$name"
    sed 's/^/    /' "$last_log" | tail -30
  fi
}

deb="$dist/graphmailer_${version}_amd64.deb"

# ---- Python --------------------------------------------------------------------
# The Python, C and Debian checks run as lanes beside the Node ones; their
# lines are printed after those. (The lanes' functions are not indented: the
# code they hand to Python, CMake and shells starts at the line's start.)
python_checks() {
echo "== Python wheel"
wheel=$(ls "$dist"/graphmailer-"$version"-cp39-abi3-*.whl)
check "the wheel is abi3 and tagged manylinux_2_17 (auditwheel agrees)" bash -c "
  [[ '$(basename "$wheel")' == *manylinux_2_17_x86_64* ]] &&
  '$target_dir/release-tools/bin/auditwheel' show '$wheel' | grep -q 'manylinux_2_17_x86_64'"
check "the sdist is there" test -f "$dist/graphmailer-$version.tar.gz"
# Every CPython the machine has that abi3-py39 covers (3.9 and later).
pythons=()
for candidate in /usr/bin/python3.[0-9]* "$HOME"/.pyenv/versions/3.*/bin/python3; do
  [ -x "$candidate" ] || continue
  [[ $candidate == *-config ]] && continue
  "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null || continue
  pythons+=("$candidate")
done
echo "pythons: ${pythons[*]}"
# The venvs and their installs, all at once; each is checked, in order,
# below. A venv gets no pip of its own: installing it (ensurepip) cost 3 to
# 5 CPU-seconds per venv, more than the rest of its check. The release
# tools' pip installs the wheel into each, run by that venv's Python
# (`--python`), so the venv's interpreter decides which tags it accepts.
mkdir -p "$work/py"
venvs=() installs=()
for python in "${pythons[@]}"; do
  venv="$work/py/$(echo "$python" | md5sum | cut -c1-6)"
  norust bash -c "'$python' -m venv --without-pip '$venv' && '$target_dir/release-tools/bin/pip' --python '$venv/bin/python' install --quiet --no-index --disable-pip-version-check '$wheel'" \
    >"$venv.install.log" 2>&1 &
  venvs+=("$venv") installs+=($!)
done
for i in "${!pythons[@]}"; do
  python=${pythons[$i]} venv=${venvs[$i]}
  pyversion=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  check "Python $pyversion ($python): fresh venv, pip install --no-index of the wheel" waited "${installs[$i]}" "$venv.install.log"
  sends "Python $pyversion: sends through the emulator" "python $pyversion" norust "$venv/bin/python" -c "
import graphmailer
receipt = graphmailer.Mailer.from_env().send(sender='$sender', to='to@example.com', subject='python $pyversion', text='from the wheel')
assert graphmailer.__file__.startswith('$venv'), graphmailer.__file__
print(receipt)"
done
}
lane python python_checks

# ---- C SDK ---------------------------------------------------------------------
c_sdk_checks() {
echo "== C SDK"
prefix="$work/c/prefix"
mkdir -p "$prefix"
sdk="graphmailer-$version-x86_64-linux-gnu"
check "the C SDK unpacks: header, .so with soname and links, .a, .pc, CMake package" bash -c "
  tar -xzf '$dist/$sdk.tar.gz' -C '$prefix' --strip-components=1 &&
  cd '$prefix' && test -f include/graphmailer.h && test -f lib/libgraphmailer.a &&
  test -f lib/cmake/graphmailer/graphmailerConfig.cmake && test -f lib/cmake/graphmailer/graphmailerConfigVersion.cmake &&
  soname=\$(readelf -d lib/libgraphmailer.so.$version | sed -n 's/.*soname: \[\(.*\)\]/\1/p') &&
  [ \"\$soname\" = libgraphmailer.so.$(echo "$version" | cut -d. -f1-2) ] &&
  [ \"\$(readlink lib/libgraphmailer.so)\" = \"\$soname\" ] && [ \"\$(readlink lib/\$soname)\" = libgraphmailer.so.$version ]"
mkdir -p "$work/c/cmake-project"
cp ffi/examples/send.c "$work/c/cmake-project/"
cat >"$work/c/cmake-project/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(graphmailer_consumer C)
find_package(graphmailer $(echo "$version" | cut -d. -f1-2) REQUIRED)
add_executable(send_shared send.c)
target_link_libraries(send_shared PRIVATE graphmailer::graphmailer)
add_executable(send_static send.c)
target_link_libraries(send_static PRIVATE graphmailer::graphmailer_static)
EOF
check "a CMake project finds graphmailer $version and builds against both targets" norust bash -c "
  cmake -S '$work/c/cmake-project' -B '$work/c/cmake-build' -DCMAKE_PREFIX_PATH='$prefix' &&
  cmake --build '$work/c/cmake-build' &&
  ! ldd '$work/c/cmake-build/send_static' | grep -q graphmailer"
check "a CMake package asking for another minor version is refused" norust bash -c "
  mkdir -p '$work/c/wrong' && printf 'cmake_minimum_required(VERSION 3.16)\nproject(p C)\nfind_package(graphmailer 0.1 REQUIRED)\n' >'$work/c/wrong/CMakeLists.txt' &&
  ! cmake -S '$work/c/wrong' -B '$work/c/wrong/build' -DCMAKE_PREFIX_PATH='$prefix'"
sends "CMake build, shared library: sends through the emulator" "c cmake shared" \
  norust "$work/c/cmake-build/send_shared" "$sender" to@example.com "c cmake shared" "from the C SDK"
sends "CMake build, static library: sends through the emulator" "c cmake static" \
  norust "$work/c/cmake-build/send_static" "$sender" to@example.com "c cmake static" "from the C SDK"
check "examples/send.c builds with pkg-config against the SDK" norust bash -c "
  export PKG_CONFIG_PATH='$prefix/lib/pkgconfig' &&
  [ \"\$(pkg-config --modversion graphmailer)\" = '$version' ] &&
  cc '$root/ffi/examples/send.c' \$(pkg-config --cflags --libs graphmailer) \
    -Wl,-rpath,\$(pkg-config --variable=libdir graphmailer) -o '$work/c/send-pkgconfig'"
sends "pkg-config build: sends through the emulator" "c pkg-config" \
  norust "$work/c/send-pkgconfig" "$sender" to@example.com "c pkg-config" "from the C SDK"
}
lane c c_sdk_checks

# ---- Debian package ------------------------------------------------------------
# A lane too, beside the Node checks. lintian reads the package for
# seconds, one process: it starts first and is checked last.
debian_checks() {
echo "== Debian package"
(lintian --fail-on error --tag-display-limit 0 "$deb" >"$work/lintian.log" 2>&1 && ! grep -q '^E:' "$work/lintian.log") &
local lintian_job=$!
# release.sh writes libc6 (>= $glibc) for the command line: true only while
# every library it needs is one of libc6's (and the glibc check above holds).
check "it depends on libc6 (>= $glibc), and the command line needs only libc6's libraries" bash -c "
  [ \"\$(dpkg-deb -f '$deb' Depends | tee /dev/stderr | grep -o 'libc6 ([^)]*)' | sort -u)\" = 'libc6 (>= $glibc)' ] &&
  dpkg-deb -x '$deb' '$work/deb-files' &&
  readelf -d '$work/deb-files/usr/bin/graphmailer' | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tee /dev/stderr |
    grep -Evx 'libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2' | { ! grep -q .; }"
# Inside the test suite, not while tests that read the system's settings run
# (scripts/test.sh says which); at most an hour.
if [ -n "${GRAPHMAILER_RELEASE_DEB_AFTER:-}" ]; then
  for _ in $(seq 3600); do [ -e "$GRAPHMAILER_RELEASE_DEB_AFTER" ] && break; sleep 1; done
fi
if dpkg -s graphmailer >/dev/null 2>&1; then $sudo dpkg --purge graphmailer >/dev/null; fi
check "dpkg -i installs it" $sudo dpkg -i "$deb"
files=$(dpkg -L graphmailer 2>/dev/null)
check "graphmailer --version says $version" bash -c "norust_path='$norust_path'; [ \"\$(PATH=\$norust_path graphmailer --version)\" = 'graphmailer $version' ]"
check "man pages, completions and systemd units are installed" bash -c "
  test -f /usr/share/man/man1/graphmailer.1.gz && test -f /usr/share/man/man1/graphmailer-send.1.gz &&
  test -f /usr/share/bash-completion/completions/graphmailer && test -f /usr/share/zsh/vendor-completions/_graphmailer &&
  test -f /usr/share/fish/vendor_completions.d/graphmailer.fish &&
  test -f /lib/systemd/system/graphmailer-relay.service && test -f /lib/systemd/system/graphmailer-queue.service &&
  test -f /lib/systemd/system/graphmailer-queue.timer"
check "/etc/graphmailer/graphmailer.toml is a conffile, 640 root:mailsend" bash -c "
  [ \"\$(stat -c '%a %U:%G' /etc/graphmailer/graphmailer.toml)\" = '640 root:mailsend' ] &&
  dpkg-query -W -f='\${Conffiles}' graphmailer | grep -q /etc/graphmailer/graphmailer.toml"
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify accepts the units" systemd-analyze verify /lib/systemd/system/graphmailer-relay.service \
    /lib/systemd/system/graphmailer-queue.service /lib/systemd/system/graphmailer-queue.timer
fi
check "/usr/sbin/sendmail is graphmailer through update-alternatives" bash -c "
  update-alternatives --query sendmail | grep -q '^Value: /usr/bin/graphmailer' && [ \"\$(readlink -f /usr/sbin/sendmail)\" = /usr/bin/graphmailer ]"
# The administrator's configuration, as SENDMAIL.md has it, pointed at the emulator.
$sudo tee /etc/graphmailer/graphmailer.toml >/dev/null <<EOF
tenant_id = "$tenant"
client_id = "$client"
client_secret = "$secret"
authority_host = "$url"
graph_endpoint = "$url"
default_sender = "$sender"
EOF
sends "/usr/sbin/sendmail -t sends through the emulator" "deb sendmail" norust bash -c "
  printf 'To: to@example.com\nSubject: deb sendmail\n\nfrom the Debian package\n' |
    env -u AZURE_TENANT_ID -u AZURE_CLIENT_ID -u AZURE_CLIENT_SECRET -u AZURE_AUTHORITY_HOST -u GRAPHMAILER_GRAPH_ENDPOINT \
      $sudo /usr/sbin/sendmail -t -i"
check "dpkg --purge removes it" $sudo dpkg --purge graphmailer
leftover=()
while IFS= read -r path; do
  # Shared directories (/usr/share/man/man1, ...) stay; anything of graphmailer's goes.
  [ -d "$path" ] && [[ $path != *graphmailer* ]] && continue
  if [ -e "$path" ] || [ -L "$path" ]; then leftover+=("$path"); fi
done <<<"$files"
check "nothing of it is left (files, configuration, queue, alternative, stat override)" bash -c "
  [ -z '${leftover[*]}' ] || { echo 'left: ${leftover[*]}'; exit 1; }
  ! test -e /etc/graphmailer && ! test -e /var/lib/graphmailer && ! test -e /usr/bin/graphmailer &&
  ! test -L /usr/sbin/sendmail && ! update-alternatives --query sendmail 2>/dev/null &&
  ! dpkg-statoverride --list /etc/graphmailer/graphmailer.toml"

# Another mail server's /usr/sbin/sendmail (Debian's install it as a plain
# file) must survive the package's install and purge.
if [ ! -e /usr/sbin/sendmail ]; then
  printf '#!/bin/sh\n# another MTA\n' | $sudo tee /usr/sbin/sendmail >/dev/null
  $sudo chmod 755 /usr/sbin/sendmail
  check "another mail server's /usr/sbin/sendmail is kept through install and purge" bash -c "
    $sudo dpkg -i '$deb' && grep -q 'another MTA' /usr/sbin/sendmail && ! test -L /usr/sbin/sendmail &&
    $sudo dpkg --purge graphmailer && grep -q 'another MTA' /usr/sbin/sendmail"
  $sudo rm -f /usr/sbin/sendmail
fi

check "lintian: no errors" waited "$lintian_job" "$work/lintian.log"
}
lane debian debian_checks

# ---- Node ----------------------------------------------------------------------
echo "== npm packages"
project="$work/node-project"
mkdir -p "$project"
printf '{ "name": "consumer", "version": "1.0.0", "private": true }\n' >"$project/package.json"
check "npm install --offline of the two tarballs into an empty project (no install scripts)" norust bash -c "
  cd '$project' && npm install --offline --no-audit --no-fund \
    '$dist/graphmailer-linux-x64-gnu-$version.tgz' '$dist/graphmailer-$version.tgz' &&
  test -f node_modules/graphmailer-linux-x64-gnu/graphmailer.linux-x64-gnu.node &&
  ! ls node_modules/graphmailer/*.node 2>/dev/null &&
  node -e 'const p = require(\"graphmailer/package.json\"); if (p.scripts || p.optionalDependencies[\"graphmailer-linux-x64-gnu\"] !== \"$version\") process.exit(1)'"
cat >"$project/send.cjs" <<EOF
const { Mailer } = require('graphmailer')
Mailer.fromEnv().send({ from: '$sender', to: ['to@example.com'], subject: 'node require', text: 'from npm' })
  .then((receipt) => console.log(receipt), (error) => { console.error(error); process.exit(1) })
EOF
cat >"$project/send.mjs" <<EOF
import { Mailer } from 'graphmailer'
console.log(await Mailer.fromEnv().send({ from: '$sender', to: ['to@example.com'], subject: 'node import', text: 'from npm' }))
EOF
sends "Node require('graphmailer'): sends through the emulator" "node require" norust bash -c "cd '$project' && node send.cjs"
sends "Node import 'graphmailer': sends through the emulator" "node import" norust bash -c "cd '$project' && node send.mjs"

collect debian
collect c
collect python

finish
