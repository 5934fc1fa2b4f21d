#!/bin/sh
# Makes DIR a busybox root filesystem for test boxes of other isolations
# than namespaces (the "host" image cannot run in a VM): the host's static
# /bin/busybox with every applet linked, root and nobody in /etc/passwd,
# and the directories the exec-contract tests use. Used by the harness
# (tests/integration/harness.c) and test_server_ws.sh.
set -eu
d=$1
mkdir -p "$d/bin" "$d/etc" "$d/root" "$d/tmp" "$d/usr" "$d/dev" "$d/proc" "$d/sys" "$d/run"
chmod 1777 "$d/tmp"
cp /bin/busybox "$d/bin/"
for a in $(/bin/busybox --list); do [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
    >"$d/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$d/etc/group"
