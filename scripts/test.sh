#!/usr/bin/env bash
# Every test tier, in order; called by `make test` once the environments exist and the model is
# trained. Exits non-zero if any tier fails, or if a tier ran no test at all (pytest's exit code 5).
#   unit + integration   gateway environment: knowledge base, store, channels (PostgreSQL too when reachable)
#   actions              Rasa environment: the custom actions on the real knowledge base
#   assistant            rasa data validate, rasa test on the test stories, NLU on held-out data
#   e2e                  real processes: Rasa, action server, gateway, fake Telegram server, browser
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=$PWD
failed=()

tier() {  # tier NAME COMMAND...
  local name=$1; shift
  echo; echo "==================== $name ===================="
  "$@"; local rc=$?
  if [ $rc -eq 5 ]; then echo "$name: no test was collected (pytest exit code 5): counted as a failure"; fi
  [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
}

# PostgreSQL for the store tests: the machine's server when it answers (CI has one), else SQLite only.
if [ -z "${TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  export TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test"
fi
echo "PostgreSQL for store tests: ${TEST_POSTGRES_URL:-not available, SQLite only}"

# A real browser for the web chat test (Debian's chromium); installed once when missing and we are root.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> Installing chromium for the browser test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium"
fi

# axe-core for the accessibility checks of the console's browser tests (tests/a11y, from the npm registry)
if [ ! -f tests/a11y/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null 2>&1; then
  echo "==> Installing axe-core for the accessibility checks"
  (cd tests/a11y && npm install --no-audit --no-fund --loglevel=error >/dev/null) || echo "could not install axe-core"
fi

PYTEST_OPTS=(-q -p no:cacheprovider -o cache_dir=/tmp/concilia-pytest-cache)

tier "lint (ruff)" .venv/bin/ruff check bot knowledge actions rasa_addons harness tests bench scripts
# knowledge/ runs in both environments: checked as the gateway's Python and as the Rasa env's 3.10
tier "lint (mypy bot/ and knowledge/)" .venv/bin/python -m mypy
tier "lint (mypy knowledge/, Python 3.10)" .venv/bin/python -m mypy --python-version 3.10 knowledge
tier "unit and integration" .venv/bin/python -m pytest "${PYTEST_OPTS[@]}" tests/unit tests/integration \
  --junitxml=results/junit-gateway.xml
tier "actions" .venv-rasa/bin/python -m pytest "${PYTEST_OPTS[@]}" tests/actions --junitxml=results/junit-actions.xml
tier "rasa data validate" .venv-rasa/bin/rasa data validate --config config.yml --domain nlu/domain.yml --data nlu/data
tier "rasa test (stories)" .venv-rasa/bin/rasa test core --model models/concilia.tar.gz --stories tests/stories \
  --out results/core --fail-on-prediction-errors
tier "assistant quality" .venv-rasa/bin/python -m pytest "${PYTEST_OPTS[@]}" tests/assistant --junitxml=results/junit-assistant.xml
if [ -d tests/e2e ] && ls tests/e2e/test_*.py >/dev/null 2>&1; then
  tier "end to end" .venv/bin/python -m pytest "${PYTEST_OPTS[@]}" tests/e2e --junitxml=results/junit-e2e.xml
fi

echo
if [ ${#failed[@]} -gt 0 ]; then echo "FAILED tiers: ${failed[*]}"; else echo "All test tiers passed."; fi
.venv/bin/python scripts/junit_summary.py results/junit-*.xml
[ ${#failed[@]} -eq 0 ]
