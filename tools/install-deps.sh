#!/usr/bin/env bash
# Installs, from Debian's archive, whatever faultfs needs to build, test and benchmark that this
# machine lacks. Quiet and quick when everything is already there.
set -euo pipefail

packages=(
  cmake ninja-build pkg-config g++ clang libclang-rt-14-dev   # toolchain (clang: fuzzing,
                                                             # the thread-safety analysis)
  clang-format clang-tidy                                    # the format and tidy checks
  dpkg-dev                                                   # the .deb (dpkg-shlibdeps)
  libfuse3-dev fuse3 liburing-dev                            # FUSE low-level API, io_uring
  libcli11-dev libspdlog-dev libfmt-dev                      # CLI and logging
  libtomlplusplus-dev nlohmann-json3-dev                     # policies, JSON output
  libre2-dev                                                 # path regexes in linear time
  libxxhash-dev                                              # crash-state content hashes (XXH3)
  libasio-dev                                                # the harness: sockets, event loop
  chromium                                                   # the harness report, checked headless
  libgtest-dev libgmock-dev libbenchmark-dev                 # tests, micro-benchmarks
  fio python3 util-linux psmisc sqlite3                      # benchmarks, test tools, case studies
  rocksdb-tools                                              # db_bench, for tools/bench
  libleveldb-dev redis-server postgresql-15 lmdb-utils       # the case studies (examples/)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install packages (try: sudo $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
