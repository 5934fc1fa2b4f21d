#!/bin/sh
# Every file a comment or a document names exists: a path such as
# src/runtime/ns.c or docs/internals/errors.md (from the top of the tree or
# from the naming file's folder), and, in C sources, a bare file name such as
# "imgstore.c" (somewhere in the tree). A renamed or planned-but-never-made
# file otherwise lingers in the prose that points readers to it.
# Usage: doc_paths.sh SOURCE_DIR
set -eu
cd "$1"
dirs=$(for d in src include tests tools bench docs examples bindings; do [ -d "$d" ] && echo "$d"; done)
bad=0
names=$(find $dirs -type f \( -name '*.c' -o -name '*.h' \) | sed 's|.*/||' | sort -u)

# Paths below one of the tree's top folders, in code, scripts and docs.
for f in $(find $dirs README.md -type f \( -name '*.[ch]' -o -name '*.sh' -o -name '*.md' \
    -o -name '*.py' -o -name '*.js' -o -name 'CMakeLists.txt' \) | grep -v /node_modules/); do
    grep -noE "(^|[^A-Za-z0-9_.$/-])(src|include|docs|tests|bench|tools|examples|bindings)/[A-Za-z0-9_./-]*\.(c|h|md|sh|py|js|yaml)([^A-Za-z0-9_/]|$)" "$f" |
        sed -E 's/^([0-9]+):[^a-z]?([a-z][A-Za-z0-9_./-]*\.(c|h|md|sh|py|js|yaml)).*$/\1 \2/' |
        while read -r line p; do
            [ -e "$p" ] || [ -e "$(dirname "$f")/$p" ] || { echo "$f:$line: names $p, which does not exist"; echo x; }
        done
done > "${TMPDIR:-/tmp}/doc_paths.$$"

# Bare file names in C comments (not #include lines, not <system.h>).
for f in $(find $dirs -type f -name '*.[ch]' | grep -v /node_modules/); do
    grep -nE '[A-Za-z0-9_-]+\.[ch]([^A-Za-z0-9_/>]|$)' "$f" | grep -vE '^[0-9]+:[[:space:]]*#[[:space:]]*include' |
        while IFS=: read -r line text; do
            printf '%s\n' "$text" | grep -oE "(^|[^A-Za-z0-9_./<\$-])[A-Za-z0-9_-]+\.[ch]([^A-Za-z0-9_/>]|$)" |
                sed -E 's/^[^A-Za-z0-9_-]?([A-Za-z0-9_-]+\.[ch]).*$/\1/' |
                while read -r n; do
                    printf '%s\n' "$names" | grep -qxF "$n" || { echo "$f:$line: names $n, which does not exist"; echo x; }
                done
        done
done >> "${TMPDIR:-/tmp}/doc_paths.$$"

grep -v '^x$' "${TMPDIR:-/tmp}/doc_paths.$$" || true
bad=$(grep -c '^x$' "${TMPDIR:-/tmp}/doc_paths.$$" || true)
rm -f "${TMPDIR:-/tmp}/doc_paths.$$"
if [ "$bad" -ne 0 ]; then
    echo "$bad mention(s) of files that do not exist"
    exit 1
fi
echo "every file named in comments and docs exists"
