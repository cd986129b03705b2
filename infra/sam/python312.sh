# Sourced by the other scripts here: find_python312 prints the path of a Python 3.12
# interpreter, the version the functions run on in Lambda. `sam build` checks that the
# runtime's interpreter is on PATH, so build.sh puts this one's directory first.
#
# find_python VERSION OVERRIDE: the interpreter of VERSION (3.12, 3.13, ...). Order: the
# variable named OVERRIDE if set; pyenv's VERSION (`pyenv prefix VERSION`, then any
# ~/.pyenv/versions/VERSION*); `pythonVERSION` on PATH.

find_python() {
    local version="$1" override="$2" candidate prefix
    if [[ -n "${!override:-}" ]]; then
        echo "${!override}"
        return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        prefix="$(pyenv prefix "$version" 2>/dev/null | head -n1 || true)"
        if [[ -n "$prefix" && -x "$prefix/bin/python$version" ]]; then
            echo "$prefix/bin/python$version"
            return 0
        fi
    fi
    for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version"* 2>/dev/null | sort -V -r); do
        if [[ -x "$candidate/bin/python$version" ]]; then
            echo "$candidate/bin/python$version"
            return 0
        fi
    done
    # Skip pyenv's shim: it fails when no such version is selected, and the checks above found none.
    candidate="$(type -P -a "python$version" 2>/dev/null | grep -v '/shims/' | head -n1 || true)"
    if [[ -n "$candidate" ]]; then
        echo "$candidate"
        return 0
    fi
    echo "python$version not found: install it (pyenv install $version, or apt-get install python$version) or set $override" >&2
    return 1
}

# The functions' runtime: $SAM_PYTHON312 first.
find_python312() {
    find_python 3.12 SAM_PYTHON312
}
