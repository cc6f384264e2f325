#!/usr/bin/env bash
# The whole check: environment, lint, types, and every test (real GMAT, slow ones too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash .ci/env.sh
.venv/bin/ruff check src tests examples benchmarks
.venv/bin/ruff format --check src tests examples benchmarks
.venv/bin/mypy src
# The reliability suite rewrites its figures on the docs page; the site is built after it.
XSWEEP_RELIABILITY_DOCS=1 HYPOTHESIS_PROFILE=ci \
    .venv/bin/python -m pytest -m "" --doctest-modules --durations=20 src tests "$@"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet -f docs/mkdocs.yml
