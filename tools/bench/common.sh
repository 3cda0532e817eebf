# Sourced by the benchmarks: a fresh journaled ext4 (like a database's data disk) on an image in
# /var/tmp, loop-mounted with direct I/O so that it sits on the same disk as the image. A fresh
# filesystem is the fair baseline: ext4 slows file creation for minutes after a large deletion,
# so a long-used one makes results depend on what ran before.
#
#   scratch_fs_create NAME SIZE   # mounts it at /var/tmp/NAME.fs ($scratch_fs_dir)
#   scratch_fs_remove             # unmounts it and deletes the image (safe to call twice)

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
