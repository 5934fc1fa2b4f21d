#!/bin/sh
# The public ABI is what include/boxlet.h declares BOXLET_API and nothing
# else: every symbol libboxlet.so exports is one of those functions, and
# each of them is exported. Usage: exports.sh LIBBOXLET_SO BOXLET_H
set -eu
lib=$1 header=$2
got=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
want=$(grep -E '^BOXLET_API ' "$header" | sed -E 's/^[^(]*[^a-z0-9_](boxlet_[a-z0-9_]+)[(].*$/\1/' | sort)
if [ "$got" != "$want" ]; then
    echo "exported by $lib but not declared BOXLET_API in $header (>), or the other way (<):"
    printf '%s\n' "$want" > "${TMPDIR:-/tmp}/exports.want.$$"
    printf '%s\n' "$got" | diff "${TMPDIR:-/tmp}/exports.want.$$" - || true
    rm -f "${TMPDIR:-/tmp}/exports.want.$$"
    exit 1
fi
echo "$(printf '%s\n' "$got" | wc -l) symbols exported, each declared BOXLET_API"
