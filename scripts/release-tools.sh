#!/usr/bin/env bash
# release-tools.sh: the release's tools, in one virtual environment
# (target/release-tools): maturin, cargo-zigbuild, ziglang (zig) and
# auditwheel, at the versions proved to build together.
#
#   release-tools.sh install   creates or updates it
#   release-tools.sh zig-env   prints, NUL-separated, the variables that make
#                              cargo link for glibc 2.17 through zig
#
# zig-env's variables name the linker, the C and C++ compilers, the archiver
# and a CMake toolchain, each a wrapper script cargo-zigbuild writes.
# scripts/release.sh builds the release with them, and scripts/test.sh the
# suite's debug build, so that the suite's release check packages that build
# instead of compiling every crate again (cargo does when the linker differs).
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${CARGO_TARGET_DIR:-$(pwd)/target}/release-tools"
die() { echo "release-tools: $*" >&2; exit 1; }

case ${1:-} in
install)
  [ -x "$tools/bin/pip" ] || python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check \
    maturin==1.16.0 cargo-zigbuild==0.24.0 ziglang==0.17.1 auditwheel==6.8.2
  ;;
zig-env)
  target=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
  glibc=2.17
  [ -x "$tools/bin/cargo-zigbuild" ] || die "no $tools/bin/cargo-zigbuild (scripts/release-tools.sh install)"
  printf '#!/bin/sh\nexec env -0\n' >"$tools/print-env"
  chmod +x "$tools/print-env"
  # zig is found through these, not through PATH, where the tools' python3
  # would stand in for the system's; the archiver's wrapper needs them too
  # (the compilers' wrappers set them themselves).
  zig=("CARGO_ZIGBUILD_ZIG_COMMAND=$tools/bin/python3" "CARGO_ZIGBUILD_ZIG_COMMAND_ARGS=-m ziglang")
  # What cargo-zigbuild adds to the environment of the cargo it runs (CARGO
  # names the cargo; print-env prints instead of building). Both sides start
  # from the same few variables, so that a caller that has the variables
  # already (the release check inside the suite) gets them all again.
  base=(HOME="$HOME" PATH="$PATH" "${zig[@]}")
  for name in RUSTUP_HOME RUSTUP_TOOLCHAIN CARGO_HOME XDG_CACHE_HOME; do
    [ -z "${!name:-}" ] || base+=("$name=${!name}")
  done
  # From /: zig names its library folder relative to the working folder when
  # it is inside it, and the build scripts that read it run elsewhere.
  cd /
  mapfile -d '' vars < <(comm -z -13 <(env -i "${base[@]}" "$tools/print-env" | sort -z) \
    <(env -i "${base[@]}" CARGO="$tools/print-env" "$tools/bin/cargo-zigbuild" zigbuild --target "$target.$glibc" | sort -z) |
    grep -zEv '^(_|PATH|CARGO|PWD|OLDPWD|SHLVL)=')
  linker_var="CARGO_TARGET_$(tr a-z- A-Z_ <<<"$target")_LINKER"
  [[ "${vars[*]}" == *"$linker_var="* ]] || die "cargo-zigbuild set no $linker_var"
  printf '%s\0' "${vars[@]}" "${zig[@]}"
  ;;
*) die "usage: release-tools.sh install | zig-env" ;;
esac
