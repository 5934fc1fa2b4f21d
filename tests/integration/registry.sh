# registry.sh — sourced by the shell tests that need images in a registry:
# start_registry DIR starts Debian's docker-registry on a free loopback port
# (REG_PORT; its pid in REG_PID, for stop_registry) with its storage in DIR,
# and pushes make_oci.py's busybox as busybox:1 and multi as multi:1.
# Returns 1 (and starts nothing) when docker-registry is not installed.
FIXTURES=$(cd "$(dirname "$0")/../fixtures" && pwd)

start_registry() {
    command -v docker-registry >/dev/null 2>&1 || return 1
    mkdir -p "$1"
    REG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat > "$1/config.yml" <<CFG
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $1/storage
http:
  addr: 127.0.0.1:$REG_PORT
CFG
    docker-registry serve "$1/config.yml" >"$1/log" 2>&1 &
    REG_PID=$!
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$REG_PORT/v2/"; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "registry did not start: $(cat "$1/log")"; return 1; }
        sleep 0.1
    done
    python3 "$FIXTURES/make_oci.py" "$1/layout" --tag busybox --tag multi >/dev/null &&
        python3 "$FIXTURES/push_registry.py" "$1/layout" busybox "127.0.0.1:$REG_PORT/busybox:1" &&
        python3 "$FIXTURES/push_registry.py" "$1/layout" multi "127.0.0.1:$REG_PORT/multi:1"
}

stop_registry() {
    [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
    REG_PID=
}
