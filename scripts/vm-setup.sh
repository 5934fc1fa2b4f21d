#!/bin/sh
# Makes what the micro-VM backend boots (docs/vm.md): the Debian cloud
# kernel, fetched with `apt-get download` from the Debian archive (never
# installed on the host, nothing from anywhere else), its PVH vmlinux
# extracted from the bzImage, and an initramfs holding the static
# boxlet-agent as /init plus the modules the guest needs.
#   sh scripts/vm-setup.sh OUTDIR AGENT [EXTRA]
# OUTDIR gets vmlinux, initramfs.cpio.gz and VERSIONS (kernel package and
# version, agent checksum). EXTRA, a directory, is copied into the
# initramfs too: the guest's only programs until boxes get their image as
# root (docs/vm.md); the tests put a static busybox there. A kernel already there for the same package
# version is kept; the initramfs is rebuilt when the agent changed.
# Needs: apt-get, dpkg-deb, lz4, cpio, gzip.
set -eu
[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: sh scripts/vm-setup.sh OUTDIR AGENT [EXTRA]" >&2; exit 2; }
OUT=$1
AGENT=$2
EXTRA=${3:-}
META=linux-image-cloud-amd64
# The modules the guest loads, in order: virtio over MMIO (microvm), the
# virtio-serial port the agent talks on, virtio disks, the image's EROFS and
# the overlay over it, the network card (virtio_net, which needs the two
# failover modules) for boxes with networking. Everything else the guest
# needs is built in.
MODULES="virtio_ring virtio virtio_mmio virtio_console virtio_blk libcrc32c erofs overlay failover net_failover virtio_net"

fail() { echo "vm-setup: $*" >&2; exit 1; }
for t in apt-get apt-cache dpkg-deb lz4 cpio gzip sha256sum; do
    command -v $t >/dev/null 2>&1 || fail "$t is missing (sh scripts/deps.sh installs it)"
done
[ -x "$AGENT" ] || fail "agent \"$AGENT\": not an executable"
file_is_static() { ! readelf -l "$1" 2>/dev/null | grep -q INTERP; }
file_is_static "$AGENT" || fail "agent \"$AGENT\": not statically linked (a guest has no libc)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The kernel package the meta package points at, e.g. linux-image-6.1.0-57-cloud-amd64.
kernel_pkg() { apt-cache depends "$META" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -1; }
PKG=$(kernel_pkg)
if [ -z "$PKG" ] && [ "$(id -u)" -eq 0 ]; then # package lists never fetched on this machine
    apt-get update -qq >/dev/null 2>&1 || true
    PKG=$(kernel_pkg)
fi
[ -n "$PKG" ] || fail "apt knows no $META (run apt-get update)"
VER=$(apt-cache show "$PKG" | sed -n 's/^Version: //p' | head -1)
KREL=${PKG#linux-image-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
missing_module() {
    for m in $MODULES; do [ -f "$OUT/modules/$m.ko" ] || return 0; done
    return 1
}
if [ ! -f "$OUT/vmlinux" ] || ! grep -qx "kernel=$PKG $VER" "$OUT/VERSIONS" 2>/dev/null ||
    missing_module; then
    echo "vm-setup: fetching $PKG $VER with apt-get download" >&2
    (cd "$work" && apt-get download -q "$PKG" >/dev/null 2>&1) || fail "apt-get download $PKG failed"
    dpkg-deb -x "$work"/"$PKG"_*.deb "$work/root"
    bz=$work/root/boot/vmlinuz-$KREL
    [ -f "$bz" ] || fail "$PKG has no /boot/vmlinuz-$KREL"
    # The bzImage's payload is LZ4 (legacy frame, magic 02 21 4c 18); its
    # vmlinux is an ELF with the PVH entry note microvm boots.
    off=$(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$bz" | head -1 | cut -d: -f1)
    [ -n "$off" ] || fail "$bz: no LZ4 payload (the kernel's compression changed?)"
    tail -c +$((off + 1)) "$bz" | lz4 -dc > "$work/vmlinux" 2>/dev/null || true
    head -c 4 "$work/vmlinux" | grep -q ELF || fail "$bz: its payload is not an ELF vmlinux"
    rm -rf "$OUT/modules"
    mkdir -p "$OUT/modules"
    for m in $MODULES; do
        f=$(find "$work/root/lib/modules/$KREL" -name "$m.ko" | head -1)
        [ -n "$f" ] || fail "$PKG has no module $m"
        cp "$f" "$OUT/modules/"
    done
    mv "$work/vmlinux" "$OUT/vmlinux"
    rm -rf "$work/root" "$work"/*.deb
    printf 'kernel=%s %s\n' "$PKG" "$VER" > "$OUT/VERSIONS"
fi

# The initramfs: /init is the agent (started with --vm-init), the modules
# and their load order in /lib/boxlet/modules.
sum=$(sha256sum "$AGENT" | cut -d' ' -f1)
if [ -n "$EXTRA" ]; then
    [ -d "$EXTRA" ] || fail "extra files \"$EXTRA\": not a directory"
    sum=$sum+$( (cd "$EXTRA" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16)
fi
if [ -f "$OUT/initramfs.cpio.gz" ] && grep -qx "agent=$sum" "$OUT/VERSIONS"; then
    exit 0
fi
r=$work/initramfs
mkdir -p "$r/lib/boxlet/ko" "$r/dev" "$r/proc" "$r/sys" "$r/run" "$r/tmp"
[ -z "$EXTRA" ] || cp -a "$EXTRA"/. "$r/"
cp "$AGENT" "$r/init"
for m in $MODULES; do
    cp "$OUT/modules/$m.ko" "$r/lib/boxlet/ko/"
    echo "/lib/boxlet/ko/$m.ko" >> "$r/lib/boxlet/modules"
done
(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$work/initramfs.cpio.gz"
mv "$work/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
grep -v '^agent=' "$OUT/VERSIONS" > "$work/v" || true
echo "agent=$sum" >> "$work/v"
mv "$work/v" "$OUT/VERSIONS"
