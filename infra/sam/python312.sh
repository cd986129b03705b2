# Sourced by the other scripts here: find_python312 prints the path of a Python 3.12
# interpreter, the version the functions run on in Lambda. `sam build` checks that the
# runtime's interpreter is on PATH, so build.sh puts this one's directory first.
#
# Order: $SAM_PYTHON312 if set; pyenv's 3.12 (`pyenv prefix 3.12`, then any
# ~/.pyenv/versions/3.12*); `python3.12` on PATH.

find_python312() {
    local candidate prefix
    if [[ -n "${SAM_PYTHON312:-}" ]]; then
        echo "$SAM_PYTHON312"
        return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        prefix="$(pyenv prefix 3.12 2>/dev/null | head -n1 || true)"
        if [[ -n "$prefix" && -x "$prefix/bin/python3.12" ]]; then
            echo "$prefix/bin/python3.12"
            return 0
        fi
    fi
    for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12* 2>/dev/null | sort -V -r); do
        if [[ -x "$candidate/bin/python3.12" ]]; then
            echo "$candidate/bin/python3.12"
            return 0
        fi
    done
    # Skip pyenv's shim: it fails when no 3.12 is selected, and the checks above found none.
    candidate="$(type -P -a python3.12 2>/dev/null | grep -v '/shims/' | head -n1 || true)"
    if [[ -n "$candidate" ]]; then
        echo "$candidate"
        return 0
    fi
    echo "python3.12 not found: install it (pyenv install 3.12, or apt-get install python3.12) or set SAM_PYTHON312" >&2
    return 1
}
