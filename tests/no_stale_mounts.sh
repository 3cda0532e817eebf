#!/bin/sh
# Goal: no test leaves a faultfs mount behind. Detaches any it finds under the test root (so the
# next run starts clean) and fails if there were any.
root=${1:?usage: no_stale_mounts.sh TEST_ROOT}
found=$(awk -v root="$root/" '$3 == "fuse.faultfs" && index($2, root) == 1 {print $2}' /proc/mounts)
[ -z "$found" ] && exit 0
echo "stale faultfs mounts left behind by a test:" >&2
for m in $found; do
  echo "  $m" >&2
  umount -l "$m" 2>/dev/null
done
exit 1
