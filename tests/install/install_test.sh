#!/usr/bin/env bash
# Goal: `cmake --install` puts a working faultfs on PATH with the ready policies, and the Debian
# package CPack makes holds the same, declares the libraries it needs, and runs once unpacked.
#   install_test.sh BUILD_DIR
set -euo pipefail
build=$1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/faultfs-install-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

# The install step of the README, into a prefix of our own.
cmake --install "$build" --prefix "$scratch/prefix" --strip >/dev/null
bin=$scratch/prefix/bin/faultfs
[ -x "$bin" ] || fail "no faultfs in $scratch/prefix/bin"
version=$(PATH=$scratch/prefix/bin:$PATH faultfs --version)
[ -n "$version" ] || fail "faultfs --version printed nothing"
policies=$scratch/prefix/share/faultfs/policies
[ -f "$policies/README.md" ] || fail "the policies' README is not installed"
count=0
for p in "$policies"/*.toml; do
  "$bin" policy check "$p" >/dev/null || fail "installed policy $p does not check"
  count=$((count + 1))
done
[ "$count" -ge 5 ] || fail "only $count policies installed"

# The .deb: what it installs, what it depends on, and that the unpacked binary runs.
(cd "$scratch" && cpack --config "$build/CPackConfig.cmake" -B "$scratch/pkg" >/dev/null)
deb=$(ls "$scratch"/pkg/faultfs_*.deb)
[ -f "$deb" ] || fail "cpack made no .deb"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libfuse3 liburing fuse3; do
  case $depends in *"$lib"*) ;; *) fail "the package does not depend on $lib: $depends" ;; esac
done
listing=$(dpkg-deb -c "$deb")
grep -q "\./usr/bin/faultfs$" <<<"$listing" || fail "the package has no /usr/bin/faultfs"
grep -q "\./usr/share/faultfs/policies/flaky-disk.toml$" <<<"$listing" ||
  fail "the package has no policies"
dpkg-deb -x "$deb" "$scratch/unpacked"
help=$("$scratch/unpacked/usr/bin/faultfs" mount --help)
grep -q "BACKING" <<<"$help" || fail "the packaged faultfs does not run"
echo "install_test: installed and packaged ($count policies; Depends: $depends)"
