#!/usr/bin/env bash
# The whole test command: what CI runs, what a developer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
# Ed25519 over libsodium (optional for users; tested here beside node:crypto).
npm run --silent build:native >/dev/null
# A real kube-apiserver, etcd and kubectl for test/kube/ (built once per machine, then cached).
bash scripts/kube-apiserver.sh >/dev/null
npm run build
npm run typecheck
npm run lint
npx vitest run
