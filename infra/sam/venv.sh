#!/usr/bin/env bash
# Create (once) the SAM CLI's own virtual environment and print the path of its `sam`.
#
#   infra/sam/venv.sh            -> /path/to/repo/.venv-sam/bin/sam
#
# The environment is rebuilt only when infra/sam/requirements.txt changes (a stamp
# file holds the requirements' checksum), so repeated builds and test runs reuse it.
# Override the location with SAM_VENV=/some/dir.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${SAM_VENV:-$root/.venv-sam}"
requirements="$here/requirements.txt"
stamp="$venv/.requirements.sha256"

# shellcheck source=infra/sam/python312.sh
source "$here/python312.sh"

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/sam" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "$venv/bin/sam"
    exit 0
fi

python="$(find_python312)"
# A concurrent run (two test sessions, make + pytest) must not build the venv twice at once.
lock="${TMPDIR:-/tmp}/venv-sam-$(printf '%s' "$venv" | sha256sum | cut -c1-16).lock"
exec 9>"$lock"
flock 9
if [[ -x "$venv/bin/sam" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "$venv/bin/sam"
    exit 0
fi

echo "creating $venv with $python" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
printf '*\n' >"$venv/.gitignore"
log="$venv/pip.log"
if ! { "$venv/bin/python" -m pip install --upgrade pip && "$venv/bin/python" -m pip install -r "$requirements"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "installing the SAM CLI into $venv failed (full log: $log)" >&2
    exit 1
fi
"$venv/bin/sam" --version >&2
echo "$wanted" >"$stamp"
echo "$venv/bin/sam"
