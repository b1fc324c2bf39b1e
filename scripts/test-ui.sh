#!/usr/bin/env bash
# Browser tests of what Airflow's web UI shows of this provider (`make test-ui`; not part of `make test`).
# Installs what it needs: Debian's chromium (apt-get) when /usr/bin/chromium is missing, and Playwright
# for Python in .venv, driving that chromium (no browser download). The tests start the emulator and
# `airflow standalone` themselves and stop them by process group. Screenshots: ui-artefacts/ (gitignored).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
PLAYWRIGHT_VERSION="${PLAYWRIGHT_VERSION:-1.65.2}"

if [ ! -x /usr/bin/chromium ]; then
  echo ">> installing Debian's chromium (apt-get)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! python -c "import playwright" 2>/dev/null; then
  echo ">> installing Playwright for Python $PLAYWRIGHT_VERSION into $(dirname "$(dirname "$(command -v python)")")"
  python -m pip install --quiet "playwright==$PLAYWRIGHT_VERSION"
fi
export GEMINI_BATCH_UI_TESTS=1
export GEMINI_BATCH_UI_ARTEFACTS="${GEMINI_BATCH_UI_ARTEFACTS:-$ROOT/ui-artefacts}"
mkdir -p "$GEMINI_BATCH_UI_ARTEFACTS"
echo ">> browser tests; screenshots in $GEMINI_BATCH_UI_ARTEFACTS"
exec python -m pytest tests/ui -p no:randomly -v "$@"
