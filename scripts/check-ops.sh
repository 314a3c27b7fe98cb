#!/usr/bin/env bash
# Validates the monitoring files in docs/ops:
# - prometheus-rules.yml with `promtool check rules` and its unit tests with `promtool test rules`
#   (promtool is in Debian's `prometheus` package);
# - grafana-dashboard.json parses and has panels;
# - with OZ_METRICS_URL set (e.g. http://127.0.0.1:8080/metrics, plus OZ_METRICS_TOKEN if set on the
#   server), every openoz_* series both files use is exported by that server.
# (crates/http/tests/observability.rs checks the same names against a server it starts.)
set -euo pipefail
cd "$(dirname "$0")/.."
ops=docs/ops

if ! command -v promtool >/dev/null 2>&1; then
    echo "check-ops: installing promtool (Debian package prometheus)" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
    export DEBIAN_FRONTEND=noninteractive
    { $SUDO apt-get update -qq </dev/null >/dev/null &&
        $SUDO apt-get install -y -qq --no-install-recommends prometheus </dev/null >/dev/null; } || true
    if ! command -v promtool >/dev/null 2>&1; then
        echo "check-ops: promtool not found and not installable (apt-get install prometheus)" >&2
        exit 1
    fi
fi
promtool check rules "$ops/prometheus-rules.yml"
(cd "$ops" && promtool test rules prometheus-rules.test.yml)

python3 - "$ops/grafana-dashboard.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
panels = d.get("panels") or []
assert panels, "dashboard without panels"
for p in panels:
    for t in p.get("targets", []):
        assert t.get("expr"), f"panel {p.get('title')!r} has a target without expr"
print(f"{sys.argv[1]}: {len(panels)} panels")
PY

if [ -n "${OZ_METRICS_URL:-}" ]; then
    auth=()
    if [ -n "${OZ_METRICS_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $OZ_METRICS_TOKEN"); fi
    exported=$(curl -fsS "${auth[@]}" "$OZ_METRICS_URL" | sed -n 's/^# TYPE \([a-z_0-9]*\) .*/\1/p' | sort -u)
    used=$(grep -oh 'openoz_[a-z_0-9]*' "$ops/prometheus-rules.yml" "$ops/grafana-dashboard.json" \
        | sed -E 's/_seconds_(bucket|sum|count)$/_seconds/' | sort -u)
    missing=$(comm -23 <(echo "$used") <(echo "$exported"))
    if [ -n "$missing" ]; then
        echo "check-ops: used but not exported by $OZ_METRICS_URL:" >&2
        echo "$missing" >&2
        exit 1
    fi
    echo "all $(echo "$used" | wc -l) openoz series used are exported"
fi
echo "check-ops: OK"
