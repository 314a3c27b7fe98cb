#!/usr/bin/env bash
# Upload (photo + 4 s video, 201) and download (/static of the video) latency: local folder vs s3s-fs bucket.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${OZ_SERVER_BIN:-target/debug/oz-server}
bash scripts/s3-server.sh install >/dev/null
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
S3DIR=$(mktemp -d); mkdir -p $S3DIR/bench
.tools/bin/s3s-fs --host 127.0.0.1 --port 19400 --access-key bench --secret-key bench-secret $S3DIR >/dev/null 2>&1 &
S3PID=$!
run() { # name port extra-env...
  local name=$1 port=$2; shift 2
  local d=$(mktemp -d)
  env "$@" OZ_DATA_DIR=$d OZ_LISTEN=127.0.0.1:$port OZ_ADMIN_EMAIL=a@example.com OZ_ADMIN_PASSWORD=benchpass1 OZ_WORKERS=0 RUST_LOG=warn $BIN serve >/dev/null 2>&1 &
  local pid=$!
  for i in $(seq 1 200); do curl -fs http://127.0.0.1:$port/api/version >/dev/null && break; sleep 0.2; done
  local tok=$(curl -s http://127.0.0.1:$port/api/authorize/auth -H 'Content-Type: application/json' -d '{"credentials":{"email":"a@example.com","password":"benchpass1"}}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
  local up=() down=() url=""
  for i in $(seq 1 25); do
    out=$(curl -s -o /tmp/up.json -w '%{time_total}' -H "X-Forensic-Access-Token: $tok" -F video1=@tests/fixtures/videos/portrait_720x1280.mp4 -F photo1=@tests/fixtures/faces/live/obama__podium.jpg http://127.0.0.1:$port/api/folders/)
    up+=($out)
    url=$(python3 -c 'import json;f=json.load(open("/tmp/up.json"));print([m["original_url"] for m in f["media"] if m["original_name"].endswith(".mp4")][0])')
    d=$(curl -s -o /dev/null -w '%{time_total}' "$url"); down+=($d)
  done
  kill $pid; wait $pid 2>/dev/null || true
  python3 - "$name" "${up[*]}" "${down[*]}" <<'PY'
import sys,statistics as st
n,u,d=sys.argv[1],[float(x)*1000 for x in sys.argv[2].split()],[float(x)*1000 for x in sys.argv[3].split()]
print(f"{n}: upload p50 {st.median(u[5:]):.1f} ms, download (245 KB video) p50 {st.median(d[5:]):.2f} ms  (n={len(u)-5}, first 5 dropped)")
PY
}
run local 19401
run s3 19402 OZ_STORAGE_URL=s3://bench/media AWS_ENDPOINT_URL=http://127.0.0.1:19400
kill $S3PID
