#!/usr/bin/env bash
# The long memory-flatness run (5 million entries, several GB of disk under $TMPDIR, ~10+ min).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run bench:build
node build/bench/run.js --soak "$@"
