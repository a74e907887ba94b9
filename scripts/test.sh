#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, check style and types, run every
# test: Debian packages (Go and its WebSocket libraries, nginx, Chromium, Node), npm packages, the
# Python package.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for package in golang-go golang-nhooyr-websocket-dev golang-github-gorilla-websocket-dev nginx-light \
    chromium; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root=""; [ "$(id -u)" -eq 0 ] || as_root="sudo"
    $as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

(cd tests/servers/node && npm ci --no-audit --no-fund --loglevel=error)

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

ruff check wsinspect tests bench scripts
ruff format --check wsinspect tests bench scripts
# Types, as [tool.pyright] in pyproject.toml says, against the packages just installed. The pip
# package carries pyright itself and runs it with the node installed above: nothing is downloaded
# (no check for a newer pyright either: the version is pinned).
PYRIGHT_PYTHON_IGNORE_WARNINGS=1 python3 -m pyright --pythonpath "$(command -v python3)"

python3 -m pytest "$@"
