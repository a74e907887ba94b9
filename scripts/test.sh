#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, check style and types, run every
# test: Debian packages (Go and its WebSocket libraries, nginx, Chromium, Firefox and NSS's
# certutil for the launched browsers, Node, and the other stacks' servers: Apache, HAProxy, Caddy,
# Tomcat, Jetty, a JDK), npm packages, the Python package, and a venv of its own for the Python
# stacks' servers.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
# The other stacks' real servers (tests/servers/stacks, tests/stack_servers.py) run from Debian:
# reverse proxies from the configs beside them, Tomcat and Jetty compiled with javac at start.
for package in golang-go golang-nhooyr-websocket-dev golang-github-gorilla-websocket-dev nginx-light \
    chromium firefox-esr libnss3-tools apache2 haproxy caddy tomcat10 libtomcat10-java \
    libjetty9-java libjetty9-extra-java openjdk-17-jdk-headless; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
command -v npm >/dev/null || missing+=(nodejs npm)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root=""; [ "$(id -u)" -eq 0 ] || as_root="sudo"
    # Installing apache2, nginx, haproxy, caddy or tomcat10 would start them as services on ports
    # 80, 443 and 8080: policy-rc.d (Debian's switch for that) forbids it until this script ends
    # (a machine that has one keeps its own). The tests start their own, on free ports.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $as_root tee "$policy" >/dev/null
        $as_root chmod 755 "$policy"
        trap '$as_root rm -f "$policy"' EXIT
    fi
    $as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

(cd tests/servers/node && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/servers/stacks/node && npm ci --no-audit --no-fund --loglevel=error)

# The Python stacks' servers (Django, Sanic, Litestar...) pin asgiref, h11, h2 and cryptography
# outside mitmproxy's pins: never in this project's Python, in a venv of their own outside the
# repository, where tests/stack_servers.py finds them. Made again when the pins change.
stacks_venv=${WSINSPECT_STACKS_VENV:-$HOME/.cache/wsinspect-stacks-venv}
stacks_pins=tests/servers/stacks/python/requirements.txt
if ! cmp -s "$stacks_pins" "$stacks_venv/requirements.txt"; then
    python3 -m venv --clear "$stacks_venv"
    "$stacks_venv/bin/pip" install --quiet --disable-pip-version-check -r "$stacks_pins"
    cp "$stacks_pins" "$stacks_venv/requirements.txt"
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

ruff check wsinspect tests bench scripts
ruff format --check wsinspect tests bench scripts
# Types, as [tool.pyright] in pyproject.toml says, against the packages just installed. The pip
# package carries pyright itself and runs it with the node installed above: nothing is downloaded
# (no check for a newer pyright either: the version is pinned).
PYRIGHT_PYTHON_IGNORE_WARNINGS=1 python3 -m pyright --pythonpath "$(command -v python3)"

python3 -m pytest "$@"
