#!/bin/sh
# `boxlet cp` end to end: one check per rule of docker cp's documentation
# (a file or a directory as SRC; DEST missing, a file, a directory, ending
# in "/"; SRC ending in "/."), in both directions, plus "-" for tar archives
# on stdin and stdout, owners and modes, a destination on a mount, and the
# CLI's usage errors. Prints "N passed, N failed".
set -u
BOXLET=$1
[ "$(id -u)" -eq 0 ] || { echo "test_cli_cp: skipped: boxes need root"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
export BOXLET_HOME=$(mktemp -d /tmp/boxlet-cp.XXXXXX)
chmod 711 "$BOXLET_HOME"
H=$BOXLET_HOME/host
cleanup() {
    for b in $("$BOXLET" ls -q 2>/dev/null); do "$BOXLET" rm -f "$b" >/dev/null 2>&1; done
    rm -rf "$BOXLET_HOME"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pass=0 fail=0
check() { # NAME WANT GOT
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$1" "$2" "$3"; fi
}
inbox() { "$BOXLET" exec cpbox -- sh -c "$1" 2>&1; }

mkdir -p "$H/dir/sub" "$H/out"
echo file > "$H/f"
echo a > "$H/dir/a"
echo b > "$H/dir/sub/b"
"$BOXLET" create --name cpbox host >/dev/null && "$BOXLET" start cpbox >/dev/null
check "setup" 0 $?
inbox 'mkdir -p /w/existing /w/dots && echo old > /w/file'

# --- into the box ---------------------------------------------------------
"$BOXLET" cp "$H/f" cpbox:/w/new; check "in: file, DEST missing: saved as DEST" "file" "$(inbox 'cat /w/new')"
"$BOXLET" cp "$H/f" cpbox:/w/nodir/ 2>/dev/null; st=$?
check "in: file, DEST/ missing: error" "125 no" "$st $(inbox 'test -e /w/nodir && echo yes || echo no')"
"$BOXLET" cp "$H/f" cpbox:/w/file; check "in: file, DEST a file: overwritten" "file" "$(inbox 'cat /w/file')"
"$BOXLET" cp "$H/f" cpbox:/w/existing; check "in: file, DEST a dir: DEST/NAME" "file" "$(inbox 'cat /w/existing/f')"
"$BOXLET" cp "$H/dir" cpbox:/w/newdir; check "in: dir, DEST missing: created with SRC's content" "a b" "$(inbox 'echo $(cat /w/newdir/a /w/newdir/sub/b)')"
"$BOXLET" cp "$H/dir" cpbox:/w/file 2>/dev/null; st=$?
check "in: dir, DEST a file: error" "125 file" "$st $(inbox 'cat /w/file')"
"$BOXLET" cp "$H/dir" cpbox:/w/existing; check "in: dir, DEST a dir: DEST/NAME" "a b" "$(inbox 'echo $(cat /w/existing/dir/a /w/existing/dir/sub/b)')"
"$BOXLET" cp "$H/dir/." cpbox:/w/dots; check "in: dir/., DEST a dir: the content into DEST" "a b" "$(inbox 'echo $(cat /w/dots/a /w/dots/sub/b)')"
check "in: nothing half-visible left" "" "$(inbox 'find / -xdev -name ".boxlet-put-*" 2>/dev/null')"

# --- out of the box -------------------------------------------------------
echo old > "$H/out/file"; mkdir -p "$H/out/existing" "$H/out/dots"
"$BOXLET" cp cpbox:/w/new "$H/out/new"; check "out: file, DEST missing: saved as DEST" "file" "$(cat "$H/out/new")"
"$BOXLET" cp cpbox:/w/new "$H/out/nodir/" 2>/dev/null; st=$?
check "out: file, DEST/ missing: error" "125 no" "$st $(test -e "$H/out/nodir" && echo yes || echo no)"
"$BOXLET" cp cpbox:/w/new "$H/out/file"; check "out: file, DEST a file: overwritten" "file" "$(cat "$H/out/file")"
"$BOXLET" cp cpbox:/w/new "$H/out/existing"; check "out: file, DEST a dir: DEST/NAME" "file" "$(cat "$H/out/existing/new")"
"$BOXLET" cp cpbox:/w/newdir "$H/out/newdir"; check "out: dir, DEST missing: created" "a b" "$(echo $(cat "$H/out/newdir/a" "$H/out/newdir/sub/b"))"
"$BOXLET" cp cpbox:/w/newdir "$H/out/file" 2>/dev/null; st=$?
check "out: dir, DEST a file: error" "125 file" "$st $(cat "$H/out/file")"
"$BOXLET" cp cpbox:/w/newdir "$H/out/existing"; check "out: dir, DEST a dir: DEST/NAME" "a b" "$(echo $(cat "$H/out/existing/newdir/a" "$H/out/existing/newdir/sub/b"))"
"$BOXLET" cp cpbox:/w/newdir/. "$H/out/dots"; check "out: dir/., DEST a dir: the content into DEST" "a b" "$(echo $(cat "$H/out/dots/a" "$H/out/dots/sub/b"))"
check "out: nothing half-visible left" "" "$(find "$H" -name '.boxlet-put-*')"

# --- tar archives on stdin and stdout --------------------------------------
tar -C "$H/dir" -cf - . | "$BOXLET" cp - cpbox:/w/fromtar
check "in: - reads a tar archive" "a b" "$(inbox 'echo $(cat /w/fromtar/a /w/fromtar/sub/b)')"
check "out: - writes a tar archive" "./sub/b" "$("$BOXLET" cp cpbox:/w/fromtar - | tar -tf - | grep 'sub/b$')"
printf 'not a tar archive at all, not even close ....\n%.0s' $(seq 20) | "$BOXLET" cp - cpbox:/w/junk 2>/dev/null; st=$?
check "in: - refuses what is not tar, leaves nothing" "125 no" "$st $(inbox 'test -e /w/junk && echo yes || echo no')"

# --- modes, links, owners, mounts -----------------------------------------
inbox 'mkdir -p /w/m && cd /w/m && echo x > f && chown 12:34 f && chmod 4750 f && ln -s f s && ln f h && touch -d @1000000000 f'
"$BOXLET" cp cpbox:/w/m "$H/out/m"
check "out: mode without setuid (no -a), symlink, hard link, mtime" "750 f 2 1000000000" \
    "$(stat -c %a "$H/out/m/f") $(readlink "$H/out/m/s") $(stat -c %h "$H/out/m/h") $(stat -c %Y "$H/out/m/f")"
"$BOXLET" cp -a cpbox:/w/m "$H/out/ma"
check "out -a: owners and setuid kept" "4750 12:34" "$(stat -c '%a %u:%g' "$H/out/ma/f")"
"$BOXLET" cp -a "$H/out/ma" cpbox:/w/ma
check "in -a: owners kept" "12:34" "$(inbox 'stat -c %u:%g /w/ma/f')"
"$BOXLET" cp "$H/f" cpbox:/proc/x 2>/dev/null; check "in: a destination on /proc is refused" 125 $?
"$BOXLET" cp cpbox:/sys/kernel "$H/out/sys" 2>/dev/null; check "out: a source on /sys is refused" 125 $?
"$BOXLET" cp "$H/f" cpbox:/tmp/f; check "in: /tmp (the box's tmpfs) is the box's" "file" "$(inbox 'cat /tmp/f')"
"$BOXLET" cp cpbox:/nope "$H/out/nope" 2>/dev/null; check "out: a missing source" 125 $?

# --- usage -----------------------------------------------------------------
"$BOXLET" cp "$H/f" "$H/g" 2>/dev/null; check "usage: no BOX:" 125 $?
"$BOXLET" cp cpbox:/a cpbox:/b 2>/dev/null; check "usage: box to box" 125 $?
"$BOXLET" cp "$H/f" nobox:/x 2>/dev/null; check "an unknown box" 125 $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
