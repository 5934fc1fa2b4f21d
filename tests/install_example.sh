#!/bin/sh
# The library and the command as a user gets them: `cmake --install` into a
# private prefix, then, with neither LD_LIBRARY_PATH nor BOXLET_AGENT set:
# - examples/hello_box.c built with `pkg-config --cflags --libs boxlet`
#   runs (boxlet.pc carries an rpath for a prefix the loader does not search);
# - the same with `pkg-config --libs boxlet-static` needs no libboxlet.so;
# - the installed `boxlet` runs boxes with the installed agent, never the
#   build tree's: with the installed agent gone it fails and names it.
# Usage: sh install_example.sh BUILD_DIR SOURCE_DIR. Prints "N passed, N failed".
set -u
BUILD=$1
SRC=$2
tmp=$(mktemp -d /tmp/boxlet-install.XXXXXX)
chmod 711 "$tmp" # boxes run as a mapped uid that must reach the home
trap 'rm -rf "$tmp"' EXIT
unset LD_LIBRARY_PATH BOXLET_AGENT BOXLET_URL
export BOXLET_HOME="$tmp/home"
pass=0 fail=0
check() { # NAME WANT GOT
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"; fi
}

prefix=$tmp/prefix
cmake --install "$BUILD" --prefix "$prefix" >"$tmp/install.log" 2>&1
check "cmake --install into a private prefix" 0 $?
[ "$fail" -eq 0 ] || { cat "$tmp/install.log"; echo "$pass passed, $fail failed"; exit 1; }
pcdir=$(find "$prefix" -name boxlet.pc -printf '%h\n' | head -n 1)
export PKG_CONFIG_PATH="$pcdir"
check "boxlet.pc names the prefix installed to" "$prefix" "$(pkg-config --variable=prefix boxlet)"
check "boxlet.pc: an rpath for a private prefix" 1 "$(pkg-config --libs boxlet | grep -c -- "-Wl,-rpath,$(dirname "$pcdir")")"

cc "$SRC/examples/hello_box.c" $(pkg-config --cflags --libs boxlet) -o "$tmp/hello_box"
check "build against libboxlet.so" 0 $?
check "it needs libboxlet.so.0" 1 "$(readelf -d "$tmp/hello_box" | grep -c 'NEEDED.*libboxlet.so.0')"
if [ "$(id -u)" -eq 0 ]; then
    out=$("$tmp/hello_box" 2>&1)
    check "it runs without LD_LIBRARY_PATH" "exit code 3" "$(echo "$out" | grep '^exit code' | cut -d' ' -f1-3)"
fi

cc "$SRC/examples/hello_box.c" $(pkg-config --cflags --libs boxlet-static) -o "$tmp/hello_static"
check "build against libboxlet.a" 0 $?
check "it does not need libboxlet.so" 0 "$(readelf -d "$tmp/hello_static" | grep -c 'NEEDED.*libboxlet')"

if [ "$(id -u)" -eq 0 ]; then
    out=$("$prefix/bin/boxlet" run --rm host -- echo installed 2>&1)
    check "the installed boxlet runs a box" "installed" "$out"
    mv "$prefix/libexec/boxlet/boxlet-agent" "$tmp/agent"
    out=$("$prefix/bin/boxlet" run --rm host -- echo installed 2>&1)
    check "without the installed agent it fails (no build-tree agent)" 1 \
        "$(echo "$out" | grep -c "libexec/boxlet/boxlet-agent")"
    mv "$tmp/agent" "$prefix/libexec/boxlet/boxlet-agent"
    for b in $("$prefix/bin/boxlet" ls -q 2>/dev/null); do "$prefix/bin/boxlet" rm -f "$b" >/dev/null 2>&1; done
else
    echo "install_example: running boxes skipped: boxes need root"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
