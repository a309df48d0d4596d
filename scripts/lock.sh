#!/usr/bin/env bash
# Re-resolve constraints.txt from pyproject.toml in a throw-away environment.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv" 2>/dev/null || python3 -m venv "$tmp/venv"
pip=("$tmp/venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q "torch==2.13.0"
"${pip[@]}" install -q ".[local,dev,mace]"
"${pip[@]}" install -q --no-deps "mace-torch==0.3.16"  # its e3nn pin is overridden: setup.sh
{
    echo "# Lock of every package of the project's environment (Python 3.11, Linux x86-64, CPU torch)."
    echo "# Regenerate after changing pyproject.toml: scripts/lock.sh"
    "${pip[@]}" freeze | grep -v '^pesbench' | sed 's/^torch==2.13.0+cpu$/torch==2.13.0/'
} > constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) packages"
