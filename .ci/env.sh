#!/usr/bin/env bash
# Create (or refresh) .venv with Python >= 3.12 and xsweep installed with its dev extra.
# Idempotent: reinstalls only when pyproject.toml changed. Source-safe: prints the
# interpreter it chose. Usage: bash .ci/env.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
    local c v
    # An explicit choice wins.
    if [[ -n "${XSWEEP_PYTHON:-}" ]] && ok "$XSWEEP_PYTHON"; then echo "$XSWEEP_PYTHON"; return; fi
    # pyenv keeps interpreters that its shims only expose with PYENV_VERSION set.
    if command -v pyenv >/dev/null 2>&1; then
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])(\.[0-9]+)?$' | sort -V); do
            c="$(pyenv root)/versions/$v/bin/python"
            if ok "$c"; then echo "$c"; return; fi
        done
    fi
    for c in python3.12 python3.13 python3.14 python3; do
        if command -v "$c" >/dev/null 2>&1 && ok "$(command -v "$c")"; then command -v "$c"; return; fi
    done
    return 1
}

if ! PY="$(find_python)"; then
    echo "xsweep needs Python 3.12 or newer (GMAT's gmatpy wheel requires it) and none was found." >&2
    echo "Install one (e.g. 'pyenv install 3.12' or your OS package python3.12), or point" >&2
    echo "XSWEEP_PYTHON at it, then rerun this command." >&2
    exit 3
fi

if [[ ! -x .venv/bin/python ]] || ! ok .venv/bin/python; then
    rm -rf .venv
    "$PY" -m venv .venv
fi
stamp=".venv/.xsweep-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "$want" ]]; then
    # uv resolves and installs the same PyPI packages as pip, ~35 s instead of ~55 s here
    # (parallel downloads and unpacking); pip is the fallback if uv cannot be had or fails.
    pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
    if ! { "${pip[@]}" uv >/dev/null 2>&1 &&
        .venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -e ".[dev,sensitivity,plot,czml,s3,envelope,adaptive,rare]"; }; then
        "${pip[@]}" --upgrade pip
        "${pip[@]}" -e ".[dev,sensitivity,plot,czml,s3,envelope,adaptive,rare]"
    fi
    echo "$want" > "$stamp"
fi
# Byte-compile the (editable) sources: every worker, GMAT child and CLI call imports them,
# and with PYTHONDONTWRITEBYTECODE set none of them would cache what it compiled.
.venv/bin/python -m compileall -q src >/dev/null
echo "xsweep environment: .venv ($(.venv/bin/python -V))" >&2
