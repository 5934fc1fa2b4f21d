#!/bin/sh
# What can be checked of deploy/ on this machine (docs/scale.md, "Deployment
# files"): the HAProxy configuration gen-haproxy.sh writes passes
# `haproxy -c` and bad node lists are refused; the Kubernetes files parse and
# keep what a node needs (privileged, the host's PID namespace, the home's
# hostPath, /dev/kvm, the key from a Secret, the headless Service --peers
# names). kubectl's dry run and `nomad job validate` run only where they can
# (an API server; a nomad binary), and say so when they cannot.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
DEPLOY=$HERE/../../deploy
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
command -v haproxy >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
DIR=$(mktemp -d /tmp/boxlet-deploy.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

if command -v haproxy >/dev/null 2>&1; then
    sh "$DEPLOY/haproxy/gen-haproxy.sh" -b 127.0.0.1:8100 -d "$DIR" -w n1=10.0.0.1:8100 \
        rack-2-node-7=[fd00::7]:8100 n3=localhost:8100 >"$DIR/haproxy.cfg" && ok || bad "gen-haproxy.sh"
    if haproxy -c -f "$DIR/haproxy.cfg" >"$DIR/check" 2>&1 && ! grep -q WARNING "$DIR/check"; then ok; else bad "haproxy -c: $(cat "$DIR/check")"; fi
    [ "$(cat "$DIR/boxlet-nodes.map")" = "n1 node_n1
rack-2-node-7 node_rack-2-node-7
n3 node_n3" ] && ok || bad "the map: $(cat "$DIR/boxlet-nodes.map")"
    grep -q "timeout tunnel" "$DIR/haproxy.cfg" && grep -q '"code":"upstream_unavailable"' "$DIR/haproxy.cfg" && ok || bad "tunnel timeout or the 503 envelope missing"
else
    echo "test_deploy: no haproxy (scripts/deps.sh installs it)"; bad "haproxy missing"
fi
for nodes in "N1=10.0.0.1:8100" "n_1=10.0.0.1:8100" "n1" "-n1=a:1" "n1-=a:1" ""; do
    if sh "$DEPLOY/haproxy/gen-haproxy.sh" $nodes >/dev/null 2>&1; then bad "gen-haproxy.sh took \"$nodes\""; else ok; fi
done

if python3 - "$DEPLOY/kubernetes" <<'PY'
import sys, yaml, glob
docs = [d for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")) for d in yaml.safe_load_all(open(f)) if d]
kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
for d in docs:
    assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), d
ds = kinds[("DaemonSet", "boxlet-node")]["spec"]["template"]["spec"]
c = ds["containers"][0]
assert ds["hostPID"] and ds["hostNetwork"], "host PID and network"
assert c["securityContext"]["privileged"] is True, "privileged"
paths = {v["hostPath"]["path"] for v in ds["volumes"] if "hostPath" in v}
assert {"/var/lib/boxlet", "/dev/kvm"} <= paths, paths
assert any(v.get("secret", {}).get("secretName") == "boxlet-api-key" for v in ds["volumes"])
assert "--node" in c["args"][0] and "boxlet-nodes." in c["args"][0] and "--api-key-file" in c["args"][0]
svc = kinds[("Service", "boxlet-nodes")]["spec"]
assert svc["clusterIP"] == "None", "headless"
proxy = kinds[("Deployment", "boxlet-proxy")]["spec"]["template"]["spec"]["containers"][0]
assert proxy["image"].startswith("haproxy:")
assert ("Service", "boxlet") in kinds
PY
then ok; else bad "the Kubernetes files"; fi
if command -v kubectl >/dev/null 2>&1 && kubectl version --request-timeout=2s >/dev/null 2>&1; then
    kubectl apply --dry-run=client -f "$DEPLOY/kubernetes" >/dev/null && ok || bad "kubectl dry run"
else
    echo "test_deploy: kubectl's client-side dry run needs an API server for discovery; none here: not run"
    skip=$((skip + 1))
fi
if command -v nomad >/dev/null 2>&1; then
    for f in "$DEPLOY"/nomad/*.hcl; do nomad job validate -var api_key=x "$f" >/dev/null && ok || bad "nomad job validate $f"; done
else
    echo "test_deploy: no nomad (Debian has none): the Nomad jobs are not validated"
    skip=$((skip + 1))
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
