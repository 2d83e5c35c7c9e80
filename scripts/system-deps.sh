#!/usr/bin/env bash
# Installs the Debian packages the test suite and benchmarks drive for real:
# Go with x/mod (tlog/note interop), PostgreSQL (hash-chain baseline), Alertmanager (alert sink),
# Chromium (the web UI's end-to-end tests and bench, driven by playwright-core), zstd (stored
# bundles decode with the reference decoder), libsodium's headers (the Ed25519 addon, native/ed25519).
set -euo pipefail
need=()
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod ] || need+=(golang-golang-x-mod-dev)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v zstd >/dev/null || need+=(zstd)
[ -f /usr/include/sodium.h ] || need+=(libsodium-dev)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "system-deps: missing ${need[*]}; run as root or install them with apt-get" >&2
  exit 1
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
