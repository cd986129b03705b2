#!/usr/bin/env bash
# The frontend's whole check, from a fresh clone (called by `make test-frontend`):
# chromium (apt-get, when missing and root), npm ci, typecheck, the openapi drift check,
# the inspector build, then every test: unit, integration and e2e against the real local
# gateway (python -m stateway_local.run, from the repository's .venv). Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS
step() { printf '\n==> %s\n' "$*"; }

chromium="${STATEWAY_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "error: no browser at $chromium; install Debian's chromium (apt-get install chromium) or set STATEWAY_CHROMIUM" >&2
    exit 1
  fi
fi

step "npm ci"
npm ci --no-audit --no-fund

step "typecheck (tsc --noEmit)"
npx --no-install tsc --noEmit

step "openapi drift check"
npm run -s check:openapi

step "build the inspector (vite build)"
npx --no-install vite build

step "tests: unit, integration, e2e (vitest)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
report="$scratch/vitest.json"
status=0
npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?

if [ -s "$report" ]; then
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`\nfrontend: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$report"
else
  echo "frontend: vitest wrote no report" >&2
  [ "$status" -ne 0 ] || status=1
fi
echo "frontend checks took $((SECONDS - started)) s"
exit "$status"
