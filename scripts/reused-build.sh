#!/usr/bin/env bash
# reused-build.sh LOG CRATE...: after a binding's build (cargo's output in
# LOG) that followed a larger one in the same target folder (the test
# suite's workspace build, or the release's cargo run), says whether it
# compiled anything but CRATE...: a crate compiled again has other features
# than the larger build gave it, which workspace-features/Cargo.toml is
# there to prevent. A line to read, not a failure: the build is still
# right, only slower. CRATE @python stands for what every maturin build
# compiles: the extension and pyo3's crates, whose build reads which Python
# it is for (maturin's PYO3_* variables), which no earlier build can match.
set -euo pipefail
log=$1
shift
expected=()
for crate in "$@"; do
  if [ "$crate" = @python ]; then
    expected+=(graphmailer-python pyo3 pyo3-build-config pyo3-ffi pyo3-macros pyo3-macros-backend target-lexicon)
  else
    expected+=("$crate")
  fi
done
mapfile -t compiled < <(sed -n 's/^ *Compiling \([^ ]*\) .*/\1/p' "$log")
mapfile -t again < <(printf '%s\n' "${compiled[@]}" | grep -vxF -f <(printf '%s\n' "${expected[@]}") | grep . || true)
if ((${#again[@]} == 0)); then
  echo "== the earlier build reused: compiled only ${compiled[*]:-nothing}"
else
  echo "== NOTE: ${#again[@]} crates compiled again, with other features than the earlier build's: ${again[*]}"
  echo "   (add what the earlier build turns on in them to workspace-features/Cargo.toml; cargo tree -e features shows it)"
fi
