#!/usr/bin/env bash
# Builds the krew archive of `kubectl trail` (deploy/krew/kubectl-trail and LICENSE) byte for
# byte the same on any machine (sorted names, fixed times and owners, gzip without a name or
# time), so its sha256 in deploy/krew/trail.yaml can be checked.
# Usage: scripts/krew-archive.sh OUT.tar.gz
set -euo pipefail
out=${1:?usage: $0 OUT.tar.gz}
root=$(cd "$(dirname "$0")/.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$root/deploy/krew/kubectl-trail" "$stage/kubectl-trail"
install -m 0644 "$root/LICENSE" "$stage/LICENSE"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=ustar -C "$stage" -cf - kubectl-trail LICENSE |
  gzip -n -9 >"$out"
