# Functions shared by scripts/run and scripts/test. Source it; do not run it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# Install Debian packages (root only), running apt-get update once per script run.
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then
        say "Updating the Debian package lists (apt-get update)..."
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
        APT_UPDATED=1
    fi
    say "Installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 \
        || die "apt-get install $* failed"
}

# Find Python 3.11 or newer with the venv module; install python3-venv as root if it is missing.
find_python() {
    PYTHON="${PYTHON:-python3}"
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "$PYTHON was not found. Install Python 3.11 or newer (apt-get install python3)."
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); Python 3.11 or newer is needed."
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        if is_root && command -v apt-get >/dev/null 2>&1; then
            apt_install python3-venv
        else
            die "$PYTHON cannot create virtual environments: install Debian's python3-venv package (sudo apt-get install python3-venv), then run this again."
        fi
    fi
}

# Create .venv if needed and install the project with the given extras
# (comma-separated, may be empty). Reinstalls only when pyproject.toml or the extras change.
ensure_venv() {
    local extras="$1" spec stamp
    find_python
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        say "Creating the virtual environment in .venv..."
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV" || die "could not create $VENV"
    fi
    spec="."
    [ -n "$extras" ] && spec=".[${extras}]"
    stamp="$(cat "$ROOT/pyproject.toml" <(printf '%s' "$extras") | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$stamp" ]; then
        say "Installing the project and its dependencies into .venv (pip install -e '$spec')..."
        (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec") \
            || die "pip install -e '$spec' failed (see the messages above)"
        printf '%s' "$stamp" >"$VENV/.installed"
    fi
}
