#!/usr/bin/env bash
# Create (once) LocalStack's environment and the functions' runtime, and print their
# interpreters:
#
#   infra/localstack/venv.sh     -> line 1: .venv-localstack/bin/python (Python 3.13)
#                                   line 2: .venv-lambda/bin/python     (Python 3.12)
#
# .venv-localstack holds LocalStack's open-source core, pinned (requirements.txt), and
# this project's runtime package with its executor plugin (infra/runtime). .venv-lambda
# plays the python3.12 runtime for that plugin: the interpreter and what the Lambda runtime
# ships (runtime-requirements.txt). Each is rebuilt only when its requirements change.
# Override the locations with LOCALSTACK_VENV and LAMBDA_VENV.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# shellcheck source=infra/sam/python312.sh
source "$root/infra/sam/python312.sh"

# LocalStack's open-source core needs Python 3.13: $LOCALSTACK_PYTHON first.
find_python313() {
    find_python 3.13 LOCALSTACK_PYTHON
}

# make_venv DIR PYTHON STAMP_INPUT INSTALL_ARGS...
make_venv() {
    local venv="$1" python="$2" wanted="$3"
    shift 3
    local stamp="$venv/.requirements.sha256"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        return 0
    fi
    local lock="${TMPDIR:-/tmp}/venv-$(printf '%s' "$venv" | sha256sum | cut -c1-16).lock"
    exec 9>"$lock"
    flock 9
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        exec 9>&-
        return 0
    fi
    echo "creating $venv with $python" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    printf '*\n' >"$venv/.gitignore"
    local log="$venv/pip.log"
    if ! { "$venv/bin/python" -m pip install -q "pip>=24,<26.3" && "$venv/bin/python" -m pip install "$@"; } >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "installing into $venv failed (full log: $log)" >&2
        exit 1
    fi
    echo "$wanted" >"$stamp"
    exec 9>&-
}

checksum() { cat "$@" | sha256sum | cut -d' ' -f1; }

localstack_venv="${LOCALSTACK_VENV:-$root/.venv-localstack}"
lambda_venv="${LAMBDA_VENV:-$root/.venv-lambda}"

make_venv "$localstack_venv" "$(find_python313)" \
    "$(checksum "$here/requirements.txt" "$root/infra/runtime/pyproject.toml")" \
    -r "$here/requirements.txt" -e "$root/infra/runtime"
make_venv "$lambda_venv" "$(find_python312)" \
    "$(checksum "$here/runtime-requirements.txt")" \
    -r "$here/runtime-requirements.txt"

echo "$localstack_venv/bin/python"
echo "$lambda_venv/bin/python"
