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

# The journey test runs the README's curl commands as written.
need curl curl
# Fonts: the OCR example's test renders text into an image.
need fc-list fontconfig
need /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core
# boto3 (Debian's python3-boto3, for /usr/bin/python3): the multi-model gateway test calls it unmodified.
need /usr/lib/python3/dist-packages/boto3 python3-boto3
# docker-compose (v1): validates docker-compose.yml without a container engine.
need docker-compose docker-compose
# Container tests (test/container): buildah builds, runs and pushes images without a Docker
# engine; debootstrap makes the offline base image (scripts/make-base-image.sh); docker-registry
# is the local registry pushed to, with htpasswd (apache2-utils) for its login.
need /usr/bin/buildah buildah
need /usr/sbin/debootstrap debootstrap
need /usr/bin/docker-registry docker-registry
need /usr/bin/htpasswd apache2-utils

if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing" >&2
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
