#!/usr/bin/env bash
# The whole test command: what CI runs, what a developer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
npm run build
npm run typecheck
npm run lint
npx vitest run
