#!/bin/sh
# Installs boxlet into a scratch prefix, builds examples/hello_box.c against
# it with pkg-config (as a user of the library would) and runs it.
set -eu
BUILD=$1
SRC=$2
tmp=$(mktemp -d /tmp/boxlet-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 711 "$tmp" # boxes run as a mapped uid that must reach the home
cmake --install "$BUILD" --prefix "$tmp/prefix" >/dev/null
pcdir=$(find "$tmp/prefix" -name boxlet.pc -printf '%h\n' | head -n 1)
export PKG_CONFIG_PATH="$pcdir"
# The .pc file names the configured prefix; point it at the scratch one.
sed -i "s|^prefix=.*|prefix=$tmp/prefix|; s|^libdir=.*|libdir=$(dirname "$pcdir")|; s|^includedir=.*|includedir=$tmp/prefix/include|" "$pcdir/boxlet.pc"
cc "$SRC/examples/hello_box.c" $(pkg-config --cflags --libs --static boxlet) -o "$tmp/hello_box"
LD_LIBRARY_PATH="$(dirname "$pcdir")" BOXLET_HOME="$tmp/home" BOXLET_AGENT="$tmp/prefix/libexec/boxlet/boxlet-agent" "$tmp/hello_box"
