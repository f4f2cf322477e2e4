#!/bin/sh
# Prepare a fresh Debian machine that has only Python 3.11+: system libraries for PDF
# rendering and Chinese fonts (and Chromium for the browser tests with --test), a virtual
# environment in .venv, and the project installed into it. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1))." >&2
  exit 1
fi

apt_install() {
  # Installs Debian packages that are missing; silent when everything is there already.
  missing=""
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  [ -z "$missing" ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Please install:$missing" >&2
    return 0
  fi
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "Installing system packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# WeasyPrint needs Pango; reports need fonts with Chinese glyphs.
apt_install libpango-1.0-0 libpangoft2-1.0-0 fontconfig fonts-noto-cjk
if [ "$want_test" = 1 ]; then
  # Debian's Chromium for the browser tests: Playwright never downloads a browser here.
  [ -x /usr/bin/chromium ] || apt_install chromium
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    # Debian ships venv's pip bootstrap separately.
    rm -rf .venv
    ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    apt_install python3-venv "python$ver-venv"
    "$PY" -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
if [ "$want_test" = 1 ]; then
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
else
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
