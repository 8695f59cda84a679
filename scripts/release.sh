#!/usr/bin/env bash
# Builds every release artifact into dist/, from a clean machine with Rust:
#
#   graphmailer-VERSION-x86_64-linux-gnu.tar.gz   C SDK: include/, lib/ (.so with soname, .a),
#                                                 lib/pkgconfig/, lib/cmake/graphmailer/
#   graphmailer-VERSION-cp39-abi3-manylinux*.whl  Python wheel (glibc 2.17 and later), and the sdist
#   graphmailer-VERSION.tgz                       npm package (JavaScript, types, loader)
#   graphmailer-linux-x64-gnu-VERSION.tgz         its prebuilt addon for Linux x64 (glibc)
#   graphmailer_VERSION_amd64.deb                 the command line, sendmail, relay and queue services
#   graphmailer-VERSION-sbom.cdx.json             CycloneDX SBOM of the Rust dependencies
#   SHA256SUMS
#
# Every binary in them needs glibc 2.17 or later (zig links them against it).
#
# GRAPHMAILER_RELEASE_PROFILE=dev packages the debug build that
# scripts/test.sh makes in the workspace's target folder (linked by zig the
# same way: scripts/release-tools.sh), instead of compiling everything again:
# what the suite's release check proves is how the artifacts are packaged,
# linked and installed, none of which the optimiser changes. Such a dist/
# says it is not for publishing.
#
# The version is the workspace's (Cargo.toml, [workspace.package]); every
# other file that carries it is checked against it here. Dependencies'
# licences are checked first (packaging/licenses-allowed.txt). Installs the
# tools it needs (scripts/release-tools.sh: maturin, cargo-zigbuild, ziglang,
# auditwheel; npm packages for the napi CLI; dpkg-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export CARGO_TERM_COLOR=never
target_dir=${CARGO_TARGET_DIR:-$root/target}
profile=${GRAPHMAILER_RELEASE_PROFILE:-release}
case $profile in
  # The release build's own folder (see "one release build" below).
  release) build_dir="$target_dir/zig" profile_dir=release build_features=release-features ;;
  # The test suite's: its features are the workspace build's
  # (workspace-features/Cargo.toml), so that this build finds it current.
  dev) build_dir=$target_dir profile_dir=debug build_features=workspace-features ;;
  *) echo "release: GRAPHMAILER_RELEASE_PROFILE is release or dev, not $profile" >&2; exit 1 ;;
esac
glibc=2.17
out="$build_dir/$CARGO_BUILD_TARGET/$profile_dir"
stage="$target_dir/release-stage"
dist="$root/dist"
tools="$target_dir/release-tools"
# Reproducible archives: every timestamp is the last commit's. Given only to
# the packaging steps, not exported: cc-rs's build scripts (aws-lc, SQLite)
# rerun when SOURCE_DATE_EPOCH changes, which would rebuild most crates after
# every commit.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
unset SOURCE_DATE_EPOCH

step() { echo "== $*"; }
die() { echo "release: $*" >&2; exit 1; }

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[ -n "$version" ] || die "no version in Cargo.toml's [workspace.package]"
step "graphmailer $version for $CARGO_BUILD_TARGET"
# A build other than the release profile's, as it is (the test suite's, or
# one with CARGO_PROFILE_RELEASE_* changed): say so, so that such a dist/ is
# never taken for one to publish.
not_published=$(env | grep '^CARGO_PROFILE_RELEASE_' | sort | paste -sd ' ' || true)
[ "$profile" = release ] || not_published="GRAPHMAILER_RELEASE_PROFILE=$profile${not_published:+ $not_published}"
[ -z "$not_published" ] || step "NOT FOR PUBLISHING: built with $not_published"
# Such a dist/ is also compressed at the fastest levels: its archives hold
# the same files, and an unoptimised build's are large (xz took 16 s for
# the Debian package, gzip 8 s for the C SDK; 2 and 3 s at level 1).
gzip_level=-6 xz_level=()
[ -z "$not_published" ] || gzip_level=-1 xz_level=(-z1)

# ---- the one version -----------------------------------------------------------
# Python's version comes from Cargo.toml through maturin, the C library's soname
# and graphmailer.pc from ffi/Makefile; npm's files must say the same.
for file in node/package.json node/package-lock.json; do
  found=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$file")
  [ "$found" = "$version" ] || die "$file says $found, Cargo.toml says $version"
done
grep -q "^## \[$version\]" CHANGELOG.md || die "CHANGELOG.md has no entry for $version"

# ---- tools ---------------------------------------------------------------------
missing=()
for tool in dpkg-shlibdeps strip objdump; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  step "installing dpkg-dev and binutils"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends dpkg-dev binutils >/dev/null
fi
[ -x "$tools/bin/auditwheel" ] || step "installing maturin, cargo-zigbuild, ziglang and auditwheel"
scripts/release-tools.sh install
if [ ! -x node/node_modules/.bin/napi ]; then
  step "installing the napi CLI"
  (cd node && { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; })
fi
# With --install: only the tools above (scripts/release-check.sh --install).
[ "${1:-}" != --install ] || exit 0

rm -rf "$stage" "$dist"
mkdir -p "$stage" "$dist"

# ---- licences and SBOM ---------------------------------------------------------
step "licences of every dependency"
python3 scripts/rust-deps.py licenses
SOURCE_DATE_EPOCH=$epoch python3 scripts/rust-deps.py sbom "$dist/graphmailer-$version-sbom.cdx.json"

# ---- one release build, for glibc 2.17 ----------------------------------------
# Every artifact links against glibc 2.17 (manylinux2014: CentOS 7 and every
# later distribution) through zig. cargo-zigbuild sets up zig for cargo with
# environment variables (the linker, C and C++ compilers, archiver, CMake
# toolchain, each a wrapper script); scripts/release-tools.sh reads them
# from it once here, and they are given to both builds, napi's and
# maturin's, rather than letting each make its own: maturin --zig writes
# wrappers of its own, in another folder, and cargo compiles every crate
# again when the linker's path differs (some 230 crates, counted). With one
# environment and one target folder, the wheel's build compiles only what
# differs for the Python package (below), and later builds of either find
# everything current.
zig_env_file="$stage/zig-env"
scripts/release-tools.sh zig-env >"$zig_env_file" || die "no zig environment (see above)"
mapfile -d '' zig_env <"$zig_env_file"
# The addon's features: the release's, from the three packages built at once;
# the suite's, the workspace build's. (napi's CLI builds the dev profile when
# not told --release; told `--profile dev`, it looks for the addon in a
# folder named after the profile, where cargo writes it under debug/.)
if [ "$profile" = release ]; then
  napi_args=(--release) maturin_args=(--release)
else
  napi_args=(--features "$build_features") maturin_args=(--profile "$profile")
fi

# The command line, the C library and the Node addon in one cargo run, which
# napi's CLI makes (it hands the arguments after `--` to cargo). Cargo unifies
# features per run: a run of its own for the addon resolves the shared crates
# with the addon's smaller feature set and compiles about 70 of them again.
# Not napi's --strip: it adds `-C link-arg=-s` to RUSTFLAGS, which rebuilds
# every crate; stripping the addon afterwards gives the same file.
step "cargo build ($profile profile) with zig, through napi (command line, C library, Node addon)"
(cd node && env "${zig_env[@]}" CARGO_TARGET_DIR="$build_dir" node_modules/.bin/napi build \
  --target "$CARGO_BUILD_TARGET" --platform "${napi_args[@]}" --output-dir "$stage/napi" \
  --js binding.js --dts index.d.ts -- --locked -p graphmailer-node -p graphmailer-cli -p graphmailer-ffi) 2>&1 |
  tee "$stage/napi.log"
# The suite's build made all but the addon, which napi's own variables
# compile again, with the empty package that brings the workspace's features.
[ "$profile" = release ] || scripts/reused-build.sh "$stage/napi.log" graphmailer-node graphmailer-workspace-features
cmp -s node/index.d.ts "$stage/napi/index.d.ts" || die "node/index.d.ts differs from the addon's types (run node/test.sh)"

# ---- C SDK ---------------------------------------------------------------------
step "C SDK"
sdk_name="graphmailer-$version-x86_64-linux-gnu"
sdk="$stage/c/$sdk_name"
# The library is built above: CARGO=true makes the Makefile's build step a no-op.
make -s -C ffi install CARGO=true PREFIX="$sdk" PROFILE="$profile_dir" TARGET="$CARGO_BUILD_TARGET" TARGET_DIR="$build_dir" >/dev/null
strip --strip-unneeded "$sdk/lib/libgraphmailer.so.$version"
strip --strip-debug "$sdk/lib/libgraphmailer.a"
# graphmailer.pc and the CMake files find the prefix from where they are, so
# the archive works wherever it is unpacked.
sed -i -e 's|^prefix=.*|prefix=${pcfiledir}/../..|' -e 's|^libdir=.*|libdir=${prefix}/lib|' \
  -e 's|^includedir=.*|includedir=${prefix}/include|' "$sdk/lib/pkgconfig/graphmailer.pc"
soname=$(readelf -d "$sdk/lib/libgraphmailer.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "$(readlink "$sdk/lib/libgraphmailer.so")" ] || die "soname $soname is not what make install linked"
# The system libraries of a static link, as CMake names them (-lfoo -> foo; libc is implied).
static_libs=$(sed -n 's/^LIBS_PRIVATE *?= *//p' ffi/Makefile | tr ' ' '\n' | sed -n 's/^-l//p' | grep -vx c | grep -vx pthread | paste -sd ';')
mkdir -p "$sdk/lib/cmake/graphmailer"
for file in graphmailerConfig.cmake graphmailerConfigVersion.cmake; do
  sed -e "s|@VERSION@|$version|g" -e "s|@SONAME@|$soname|g" -e "s|@STATIC_LIBS@|$static_libs|g" \
    "packaging/cmake/$file.in" >"$sdk/lib/cmake/graphmailer/$file"
done
cp ffi/README.md "$sdk/README.md"
cp -r ffi/examples "$sdk/examples"
# gzip's default level: -9 took 39 s where -6 takes 6, for an archive 2 %
# smaller (measured on an unoptimised build, whose .a is 138 MB).
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
  -C "$stage/c" -cf - "$sdk_name" | gzip "$gzip_level" -n >"$dist/$sdk_name.tar.gz"

# ---- npm packages --------------------------------------------------------------
# napi-rs's layout: `graphmailer` holds the JavaScript and loads its addon from
# the optional dependency built for the platform it runs on; here only
# graphmailer-linux-x64-gnu (see node/README.md for adding platforms).
step "npm packages"
npm_main="$stage/npm/graphmailer"
mkdir -p "$npm_main"
cp node/index.js node/index.mjs node/index.d.ts node/index.d.mts node/README.md "$npm_main/"
cp "$stage/napi/binding.js" "$npm_main/"
node_triples=$(python3 -c 'import json; print(" ".join(json.load(open("node/package.json"))["napi"]["targets"]))')
# napi writes platform packages only inside the project it runs in: a copy of
# package.json in the stage keeps them out of the source tree.
mkdir -p "$stage/npm/project"
cp node/package.json "$stage/npm/project/"
node/node_modules/.bin/napi create-npm-dirs --cwd "$stage/npm/project" --npm-dir platforms >/dev/null
python3 - "$npm_main/package.json" "$stage/npm/project/platforms" <<'EOF'
import json, os, sys
# The published package.json: the checked-in one plus an optional dependency
# per platform package (what napi's pre-publish writes before a publish).
package = json.load(open("node/package.json"))
optional = {}
for platform in sorted(os.listdir(sys.argv[2])):
    sub = json.load(open(os.path.join(sys.argv[2], platform, "package.json")))
    optional[sub["name"]] = package["version"]
package["optionalDependencies"] = optional
package.pop("devDependencies", None)
package.pop("scripts", None)
json.dump(package, open(sys.argv[1], "w"), indent=2)
EOF
for platform_dir in "$stage"/npm/project/platforms/*/; do
  addon=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["main"])' "$platform_dir/package.json")
  [ -f "$stage/napi/$addon" ] || die "no $addon built (targets: $node_triples)"
  cp "$stage/napi/$addon" "$platform_dir/$addon"
  strip --strip-unneeded "$platform_dir/$addon"
  (cd "$platform_dir" && npm pack --quiet --pack-destination "$dist" >/dev/null)
done
(cd "$npm_main" && npm pack --quiet --pack-destination "$dist" >/dev/null)

# ---- Python --------------------------------------------------------------------
step "Python wheel (with zig, manylinux2014) and sdist"
# maturin checks the extension's glibc symbol versions against manylinux2014.
# `release-features` turns on, in the shared dependencies, what the cargo run
# above turned on for the others (workspace-features/Cargo.toml), so that
# only the extension and pyo3 compile here, not about 60 crates again.
(cd python && env "${zig_env[@]}" CARGO_TARGET_DIR="$build_dir" \
  "$tools/bin/maturin" build "${maturin_args[@]}" --locked --features "$build_features" --compatibility manylinux2014 \
  --out "$dist") 2>&1 | tee "$stage/maturin.log"
scripts/reused-build.sh "$stage/maturin.log" @python graphmailer-workspace-features
(cd python && "$tools/bin/maturin" sdist --out "$dist" >/dev/null)
"$tools/bin/auditwheel" show "$dist"/graphmailer-"$version"-*.whl | tee "$stage/auditwheel.txt"
grep -q 'manylinux_2_17_x86_64' "$stage/auditwheel.txt" || die "auditwheel does not confirm manylinux_2_17"

# ---- Debian package ------------------------------------------------------------
step "Debian package"
deb="$stage/deb/root"
install -D -m 755 "$out/graphmailer" "$deb/usr/bin/graphmailer"
strip --strip-unneeded "$deb/usr/bin/graphmailer"
"$deb/usr/bin/graphmailer" dist-files "$stage/deb/generated"
mkdir -p "$deb/usr/share/man/man1"
for page in "$stage"/deb/generated/man/*.1; do
  gzip -9n <"$page" >"$deb/usr/share/man/man1/$(basename "$page").gz"
done
install -D -m 644 "$stage/deb/generated/completions/graphmailer.bash" "$deb/usr/share/bash-completion/completions/graphmailer"
install -D -m 644 "$stage/deb/generated/completions/_graphmailer" "$deb/usr/share/zsh/vendor-completions/_graphmailer"
install -D -m 644 "$stage/deb/generated/completions/graphmailer.fish" "$deb/usr/share/fish/vendor_completions.d/graphmailer.fish"
install -D -m 640 packaging/deb/graphmailer.toml "$deb/etc/graphmailer/graphmailer.toml"
for unit in relay/dist/graphmailer-relay.service packaging/deb/graphmailer-queue.service packaging/deb/graphmailer-queue.timer; do
  install -D -m 644 "$unit" "$deb/lib/systemd/system/$(basename "$unit")"
done
doc="$deb/usr/share/doc/graphmailer"
install -D -m 644 packaging/deb/copyright "$doc/copyright"
install -D -m 644 relay/dist/relay.toml "$doc/examples/relay.toml"
gzip -9n <cli/SENDMAIL.md >"$doc/SENDMAIL.md.gz"
gzip -9n <cli/RELAY.md >"$doc/RELAY.md.gz"
{
  echo "graphmailer ($version) unstable; urgency=medium"
  echo
  echo "  * Release $version: see CHANGELOG.md in the source."
  echo
  echo " -- graphmailer developers <graphmailer@users.noreply.github.com>  $(date -u -R -d "@$epoch")"
} | gzip -9n >"$doc/changelog.gz"
install -d -m 755 "$deb/DEBIAN"
install -m 755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$deb/DEBIAN/"
install -m 644 packaging/deb/conffiles "$deb/DEBIAN/conffiles"
# Depends: the shared libraries the binary needs, at the versions it needs.
mkdir -p "$stage/deb/shlibs/debian"
printf 'Source: graphmailer\n\nPackage: graphmailer\nArchitecture: amd64\n' >"$stage/deb/shlibs/debian/control"
# dpkg-shlibdeps reads this machine's libc6 symbols file, which asks for
# libc6 (>= 2.34), a version no older Debian or Ubuntu has, for two reasons
# that do not hold here. libpthread.so.0 and libdl.so.2 are empty stubs
# since 2.34, so none of their symbols is found in them. And Debian marks
# sysconf 2.34 for programs whose 2.34 headers turn SIGSTKSZ into
# sysconf(_SC_SIGSTKSZ); our C code is compiled against 2.17's headers, and
# no crate we use but libc, which defines them, names _SC_SIGSTKSZ or
# _SC_MINSIGSTKSZ. Every library the binary needs is libc6's and no symbol
# is newer than 2.17 (release-check.sh checks both), so libc6 (>= 2.17) is
# what it needs.
depends=$(cd "$stage/deb/shlibs" && dpkg-shlibdeps -O "$deb/usr/bin/graphmailer" | sed -n 's/^shlibs:Depends=//p' |
  sed -E "s/libc6 \(>= [0-9.]+\)/libc6 (>= $glibc)/")
[[ $depends == *"libc6 (>= $glibc)"* ]] || die "dpkg-shlibdeps found no libc6 dependency: $depends"
sed -e "s|@VERSION@|$version|" -e "s|@DEPENDS@|$depends|" \
  -e "s|@INSTALLED_SIZE@|$(du -sk --exclude=DEBIAN "$deb" | cut -f1)|" packaging/deb/control.in >"$deb/DEBIAN/control"
(cd "$deb" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' | LC_ALL=C sort | xargs md5sum) >"$deb/DEBIAN/md5sums"
chmod 644 "$deb/DEBIAN/md5sums"
SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz "${xz_level[@]}" --build "$deb" "$dist/graphmailer_${version}_amd64.deb" >/dev/null

# ---- checksums -----------------------------------------------------------------
(cd "$dist" && sha256sum -- * >SHA256SUMS)
step "dist/"
(cd "$dist" && ls -l --time-style=+ -- * | awk '{printf "%10d  %s\n", $5, $NF}')
