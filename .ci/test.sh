#!/usr/bin/env bash
# The whole check: environment, lint, types, and every test (real GMAT, slow ones too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash .ci/env.sh
.venv/bin/ruff check src tests examples benchmarks
.venv/bin/ruff format --check src tests examples benchmarks
.venv/bin/mypy src
HYPOTHESIS_PROFILE=ci .venv/bin/python -m pytest -m "" --doctest-modules src tests "$@"
