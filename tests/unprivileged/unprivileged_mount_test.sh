#!/bin/sh
# Goal: a user without root mounts faultfs (through fusermount3), gets a fault the policy aims at
# (and none where it does not aim), sees the mount in `faultfs status`, controls it with `ctl`,
# and unmounts it, leaving no mount and no daemon behind.
#
# Runs as root to set the stage, in a private mount namespace: /dev/fuse is readable and writable
# by all there, as on a stock Debian system (this machine's is root's alone), and whatever goes
# wrong, no mount outlives the namespace. Everything faultfs does runs as the user nobody.
#   unprivileged_mount_test.sh FAULTFS_BINARY
set -eu
faultfs=$1
[ "$(id -u)" -eq 0 ] || { echo "unprivileged_mount_test: needs root to set up" >&2; exit 1; }
# In /tmp, with a copy of the binary: nobody must reach both (a build tree may be private).
root=$(mktemp -d /tmp/faultfs-unpriv.XXXXXX)
chmod 755 "$root"
cp "$faultfs" "$root/faultfs"
faultfs=$root/faultfs
mkdir "$root/backing" "$root/mnt" "$root/run"
chown nobody:nogroup "$root/backing" "$root/mnt" "$root/run"
cat > "$root/policy.toml" <<'TOML'
[[rule]]
id = "bad-writes"
ops = ["write"]
path = "bad"
action = "errno"
errno = "EIO"
TOML
chmod 644 "$root/policy.toml"

cleanup() {
  pkill -u nobody -f "$root/mnt" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

unshare --mount --propagation private sh -eu -s "$faultfs" "$root" <<'INNER'
faultfs=$1 root=$2
mknod "$root/fuse" c 10 229
chmod 666 "$root/fuse"
mount --bind "$root/fuse" /dev/fuse
as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups env FAULTFS_RUNTIME_DIR="$root/run" "$@"; }
fail() { echo "unprivileged_mount_test: $*" >&2; exit 1; }

as_user "$faultfs" mount --policy "$root/policy.toml" "$root/backing" "$root/mnt" \
  || fail "faultfs mount failed as nobody"
grep -q " $root/mnt fuse.faultfs .*user_id=65534" /proc/self/mounts || fail "no faultfs mount of nobody's"
as_user sh -c "echo fine > '$root/mnt/good'" || fail "a write no rule aims at failed"
[ "$(cat "$root/backing/good")" = fine ] || fail "the write did not reach the backing directory"
if as_user sh -c "echo x > '$root/mnt/bad'" 2> "$root/bad.err"; then
  fail "the write the policy fails succeeded"
fi
grep -q "I/O error" "$root/bad.err" || fail "expected EIO, got: $(cat "$root/bad.err")"
as_user "$faultfs" status | grep -q "$root/mnt: mounted" || fail "status does not list the mount"
as_user "$faultfs" ctl "$root/mnt" rules | grep -q "bad-writes" || fail "ctl rules failed"
[ "$(stat -c %U "$root/backing/good")" = nobody ] || fail "files should be nobody's"
as_user "$faultfs" umount "$root/mnt" || fail "faultfs umount failed as nobody"
if grep -q " $root/mnt " /proc/self/mounts; then fail "still mounted after umount"; fi
echo "unprivileged_mount_test: mounted, faulted, listed, controlled and unmounted as nobody"
INNER
