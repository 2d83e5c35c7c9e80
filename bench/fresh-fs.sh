#!/usr/bin/env bash
# Runs the benches (same arguments as `npm run bench`) with all their data on a freshly made
# ext4 filesystem: a loop image on this machine's disk, standing in for the dedicated data
# volume an operator gives /var/lib/kubetrail. The default runs use /tmp on the root
# filesystem, where every test and bench run of the day has freed thousands of inodes; on this
# VM's journal-less ext4 that makes each new file cost about 1 ms of kernel CPU (README,
# "Creating files"), which weighs on kubetrail (two new files per 256 entries) and not on
# the one-file plain writer. Needs root (mount), mkfs.ext4 and a loop device.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "bench/fresh-fs.sh mounts a loop image and needs root; without it, run: npm run bench -- $*" >&2
  exit 2
fi
size=${BENCH_FS_SIZE:-12G}
img=$(mktemp /var/tmp/kubetrail-bench-fs.XXXXXX)
mnt=$(mktemp -d /var/tmp/kubetrail-bench-mnt.XXXXXX)
cleanup() {
  # Processes of the last bench (a PostgreSQL server shutting down) may still hold files for
  # a moment: retry, then detach lazily rather than leave the image mounted.
  for _ in 1 2 3 4 5; do
    umount "$mnt" 2>/dev/null && break
    sleep 1
  done
  mountpoint -q "$mnt" && umount -l "$mnt"
  rmdir "$mnt" 2>/dev/null || true
  rm -f "$img"
}
trap cleanup EXIT
truncate -s "$size" "$img"
# Inode tables and journal written now, not by a background thread during the runs.
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img"
mount -o loop "$img" "$mnt"
chmod 1777 "$mnt"
npm run bench:build
TMPDIR="$mnt" KUBETRAIL_BENCH_VIA="bench/fresh-fs.sh" node build/bench/run.js "$@"
