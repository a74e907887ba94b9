#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine (pip), check style, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

ruff check wsinspect tests bench scripts
ruff format --check wsinspect tests bench scripts

python3 -m pytest "$@"
