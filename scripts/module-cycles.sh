#!/usr/bin/env bash
# Prints the import graph of core/src (one "module -> module" line per edge,
# from `crate::name` paths outside test code) and exits non-zero when the
# graph has a cycle. A folder module (core/src/name/) counts as one module.
set -euo pipefail
cd "$(dirname "$0")/../core/src"

loops=$(mktemp)
trap 'rm -f "$loops"' EXIT
# The modules are core/src's files and folders; any other `crate::name` is
# an item re-exported at the root, not a module.
modules=$(find . -mindepth 1 -maxdepth 1 \( -name '*.rs' -o -type d \) ! -name lib.rs |
  sed 's#^\./##; s#\.rs$##' | sort -u)
edges=$(
  for file in $(find . -name '*.rs' ! -name lib.rs | sort); do
    path=${file#./}
    module=${path%%/*}
    module=${module%.rs}
    # Test code may reach anywhere; only the code that ships forms the graph.
    awk '/^#\[cfg\(test\)\]/ { exit } { print }' "$file" |
      grep -oE 'crate::(\{[^}]*\}|[a-z_][a-z0-9_]*)' |
      sed -E 's/^crate:://; s/[{}]//g' | tr ',' '\n' |
      sed -E 's/^[[:space:]]*//; s/::.*//; s/[[:space:]].*//' |
      grep -E '^[a-z_][a-z0-9_]*$' |
      grep -vxE "$module|self|super" | grep -xF "$modules" |
      sed "s/^/$module /" || true
  done | sort -u
)

echo "$edges" | awk 'NF == 2 { print $1 " -> " $2 }'
# tsort names each loop it finds on stderr and fails.
if ! order=$(echo "$edges" | tsort 2>"$loops"); then
  cat "$loops" >&2
  echo "module-cycles: core/src has an import cycle (above)" >&2
  exit 1
fi
if grep -q . <<<"$edges" && [ -n "$order" ]; then
  echo "module-cycles: no cycle among $(wc -l <<<"$order") modules"
fi
