#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv) from the locked versions
# (constraints.txt), and install the Debian packages the project needs when run as root.
# Idempotent and quick when nothing changed: a stamp records what was installed.
#
#   VENV=path     where the environment lives (default: .venv in the checkout)
#   PYTHON=exe    the interpreter to build it from (default: python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}

# Debian packages needed at run time or by the tests (scripts/apt-packages.txt; GPAW's own
# are installed by scripts/install-gpaw.sh).
. scripts/debian.sh
mapfile -t missing < <(missing_debian_packages $(grep -v '^\s*#' scripts/apt-packages.txt))
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        install_debian_packages "${missing[@]}"
    else
        echo "setup: missing Debian packages (run as root, or: sudo apt-get install ${missing[*]})" >&2
    fi
fi

"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
    echo "setup: pesbench needs Python 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=" >&2
    exit 1
}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"

stamp="$VENV/.pesbench-setup"
want=$(cat pyproject.toml constraints.txt scripts/setup.sh scripts/debian.sh scripts/apt-packages.txt scripts/install-gpaw.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && "$VENV/bin/python" -c 'import pesbench' 2>/dev/null; then
    echo "setup: $VENV is up to date"
    VENV="$VENV" bash scripts/install-gpaw.sh  # the local DFT engine; skips in a second when built
    exit 0
fi

pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
# this machine's pip configuration names index folders that may not exist: drop that noise
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; return "${PIPESTATUS[0]}"; }
echo "setup: installing the locked environment into $VENV (first time: about 3 minutes)"
# torch first, from its own pin: a dependency resolved before it would pull a CUDA build.
quiet "${pip[@]}" install -q -c constraints.txt "torch==2.13.0"
quiet "${pip[@]}" install -q -c constraints.txt -e ".[local,dev,mace]"
# mace-torch pins e3nn==0.4.4, sevenn needs e3nn>=0.5.0: one resolution refuses both. The pin
# is only declarative for e3nn 0.5.0/0.5.1 (MACE's 0.4.4 pickles load and predict the same,
# tests/mlip/test_mace_e3nn.py), so mace-torch goes in without its dependencies, which the
# `mace` extra above installed.
quiet "${pip[@]}" install -q -c constraints.txt --no-deps mace-torch
# pip check: the overridden pin is the one complaint allowed
problems=$("${pip[@]}" check 2>&1 | grep -v -E '^mace-torch [0-9.]+ has requirement e3nn==0\.4\.4' \
    | grep -v -E '^No broken requirements' || true)
if [ -n "$problems" ]; then echo "$problems" >&2; exit 1; fi
VENV="$VENV" bash scripts/install-gpaw.sh  # the local DFT engine: libxc + GPAW + PAW datasets
echo "$want" > "$stamp"
echo "setup: done ($("$VENV/bin/pesbench" --version))"
