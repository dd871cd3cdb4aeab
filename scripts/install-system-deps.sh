#!/usr/bin/env sh
# Debian packages the tests need that npm cannot bring. Installs only what is missing, so it
# costs nothing on a machine that already has them; run as root (CI and the dev machines are).
set -eu

missing=""
need() { # need <command-or-path> <package>
  case "$1" in
    /*) [ -e "$1" ] || missing="$missing $2" ;;
    *) command -v "$1" >/dev/null 2>&1 || missing="$missing $2" ;;
  esac
}

# Fonts: the OCR example's test renders text into an image.
need fc-list fontconfig
need /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core

if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing" >&2
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
