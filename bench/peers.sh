#!/bin/sh
# Installs what `make bench` measures boxlet against, with Debian's apt:
# crun, runc, bubblewrap and podman, busybox-static (the rootfs every peer
# and boxlet's busybox box share) and python3-matplotlib (the plot).
# Harmless when all is present. apt may be locked by another install on the
# machine: it retries for a while.
set -eu
PKGS="crun runc bubblewrap podman busybox-static python3-matplotlib"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "bench: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
updated=""
for try in 1 2 3 4 5 6 7 8 9 10 11 12; do
    if $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>/tmp/bench-apt.$$; then
        rm -f /tmp/bench-apt.$$
        exit 0
    fi
    if grep -q "Unable to locate\|has no installation candidate" /tmp/bench-apt.$$ && [ -z "$updated" ]; then
        $SUDO apt-get update -qq || true
        updated=1
    fi
    sleep 5 # most often: another apt holds the lock
done
cat /tmp/bench-apt.$$ >&2
rm -f /tmp/bench-apt.$$
echo "bench: could not install:$missing (the missing peers are skipped)" >&2
