# shellcheck shell=bash
# Sourced by the benchmarks: the fresh filesystem they run on, the memory state each run starts
# from, and the order the sides of a round run in.
#
# A fresh journaled ext4 (like a database's data disk) on an image in /var/tmp, loop-mounted with
# direct I/O so that it sits on the same disk as the image. A fresh filesystem is the fair
# baseline: ext4 slows file creation for minutes after a large deletion, so a long-used one makes
# results depend on what ran before.
#
#   scratch_fs_create NAME SIZE   # mounts it at /var/tmp/NAME.fs ($scratch_fs_dir)
#   scratch_fs_remove             # unmounts it and deletes the image (safe to call twice)
#   settle_memory                 # call right before each timed run (see below)
#   rotated_sides ROUND SIDE...   # the sides in this round's order, one per line

scratch_fs_image="" scratch_fs_loop="" scratch_fs_dir=""

scratch_fs_create() {
  scratch_fs_image=/var/tmp/$1.img
  scratch_fs_dir=/var/tmp/$1.fs
  rm -f "$scratch_fs_image"
  fallocate -l "$2" "$scratch_fs_image"
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$scratch_fs_image"
  scratch_fs_loop=$(losetup --direct-io=on -f --show "$scratch_fs_image")
  mkdir -p "$scratch_fs_dir"
  mount "$scratch_fs_loop" "$scratch_fs_dir"
}

scratch_fs_remove() {
  [ -n "$scratch_fs_loop" ] || return 0
  umount "$scratch_fs_dir" 2>/dev/null || true
  losetup -d "$scratch_fs_loop" 2>/dev/null || true
  rm -f "$scratch_fs_image"
  rmdir "$scratch_fs_dir" 2>/dev/null || true
  scratch_fs_loop=""
}

# Lets the previous run's writeback finish, drops every cache, then touches and frees 3 GiB of
# anonymous memory. Why the last step: a VM that hands its free memory back to the host (free page
# reporting, as on the machines this project is measured on) pays a host page fault on the first
# touch of every returned page. A run that starts right after another run freed its page cache
# reuses resident pages, one that starts after a quiet spell faults them all in; on a 1 GiB
# sequential write that alone moved native throughput between ~900 and ~1500 MiB/s. Starting both
# sides with resident free memory measures the filesystem, not the host.
settle_memory() {
  sync
  echo 3 > /proc/sys/vm/drop_caches
  sleep 1
  local bytes
  bytes=$(awk '/^MemAvailable:/ { printf "%d", $2 * 256 }' /proc/meminfo)  # a quarter of it
  [ "$bytes" -lt $((3 << 30)) ] || bytes=$((3 << 30))
  python3 -c 'import sys; bytearray(b"\x01") * int(sys.argv[1])' "$bytes"
}

# Rotates which side goes first in each round, so that drift in the machine's speed favours none.
rotated_sides() {
  local round=$1
  shift
  printf '%s\n' "$@" | awk -v r="$round" '{ a[NR] = $0 } END { for (i = 0; i < NR; i++) print a[(i + r) % NR + 1] }'
}
