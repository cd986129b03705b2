#!/usr/bin/env bash
# `sam build` of infra/template.yaml, with no Docker: the SAM CLI from its own venv
# (infra/sam/venv.sh) and Python 3.12 first on PATH, as the python3.12 runtime needs.
#
#   infra/sam/build.sh [BUILD_DIR]       default BUILD_DIR: .aws-sam/build
#
# The layer is built by layers/stateway/Makefile (BuildMethod: makefile), which sam runs
# with this script's environment: it installs the pins as manylinux aarch64 wheels for
# cp312 (every pin in layers/stateway/requirements.txt publishes one) with the pip of the
# Python 3.12 found here (exported as SAM_PYTHON312), so an x86_64 machine builds the
# arm64 artefacts without a container. Unchanged sources are reused from .aws-sam/cache
# (--cached). Extra arguments after BUILD_DIR go to sam.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_dir="${1:-$root/.aws-sam/build}"
shift || true

# shellcheck source=infra/sam/python312.sh
source "$here/python312.sh"
python="$(find_python312)"
sam="$("$here/venv.sh")"

export PATH="$(dirname "$python"):$PATH"
# The layer's Makefile asks infra/sam/python312.sh too, which returns this first.
export SAM_PYTHON312="$python"
export SAM_CLI_TELEMETRY=0
# pyenv's shims pick a version by .python-version; make its 3.12 the one `python3.12` finds.
export PYENV_VERSION="$(basename "$(dirname "$(dirname "$python")")")"

cd "$root"
exec "$sam" build \
    --template-file infra/template.yaml \
    --build-dir "$build_dir" \
    --cached --cache-dir "$root/.aws-sam/cache" \
    "$@"
