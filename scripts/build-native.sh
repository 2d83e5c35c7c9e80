#!/usr/bin/env bash
# `npm run build:native`: builds native/ed25519, kubetrail's optional Ed25519 addon over Debian's
# libsodium (docs/witnesses.md), with npm's node-gyp against the Node headers npm is set to use.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f /usr/include/sodium.h ]; then
  echo "build:native: libsodium's headers are not installed (no /usr/include/sodium.h)." >&2
  echo "Install them with: apt-get install libsodium-dev — or do without: kubetrail then uses node:crypto." >&2
  exit 1
fi
node-gyp rebuild -C native/ed25519
