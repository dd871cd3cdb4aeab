#!/usr/bin/env sh
# Debian packages `npm run bench` needs and `npm test` does not; the bench runs this first.
# - nginx, gunicorn, python3-flask, python3-numpy: the Python contender (nginx -> gunicorn ->
#   Flask, numpy for the forward pass), run with Debian's own /usr/bin/python3.
# - libopenblas0-pthread: numpy's BLAS. Without it Debian's numpy falls back to the reference
#   BLAS, several times slower on the MLP; the bench measures Python at its best.
# - fonts-dejavu-core, fontconfig: the font the OCR request page is rendered with.
# Installs only what is missing; run as root (CI and the dev machines are).
set -eu

missing=""
for package in nginx gunicorn python3-flask python3-numpy libopenblas0-pthread fonts-dejavu-core fontconfig; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing="$missing $package"
done

if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing" >&2
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
