#!/usr/bin/env bash
# Full-API latency and throughput against a running release server, on the embedded SQLite or a
# throw-away PostgreSQL:
#
#   scripts/bench-api.sh sqlite      # or: scripts/with-postgres.sh scripts/bench-api.sh postgres
#
# Measures (1) upload-to-result: POST /api/folders/ with a 4 s 720x1280 H.264 selfie video, an ID
# photo and QUALITY + BIOMETRY in the payload (single request mode: the answer carries the finished
# analyses), sequential, N runs, p50/p90; (2) GET /api/folders/{id}/ requests per second with wrk
# (2 threads, 32 connections, 10 s). Needs curl, jq-free (python3), and wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE="${1:-sqlite}"
N="${N:-20}"
PORT="${PORT:-18090}"
DATA="$(mktemp -d /tmp/oz-bench.XXXXXX)"
DB_URL=""
if [ "$ENGINE" = postgres ]; then
  base="${OZ_TEST_POSTGRES_URL%/*}"
  name="oz_bench_$$"
  psql "$OZ_TEST_POSTGRES_URL" -qc "create database $name" >/dev/null
  DB_URL="$base/$name"
fi
[ -n "$DB_URL" ] && export DATABASE_URL="$DB_URL"
# shellcheck source=scripts/bench-server.sh
source scripts/bench-server.sh
times=()
FID=""
for i in $(seq "$N"); do
  out=$(curl -s -w '\n%{time_total}' -H "$H" "$B/api/folders/" \
    -F video1=@tests/fixtures/videos/portrait_720x1280.mp4 -F photo1=@tests/fixtures/faces/live/obama__podium.jpg \
    -F "payload=$PAYLOAD")
  t=$(echo "$out" | tail -n1)
  body=$(echo "$out" | head -n -1)
  FID=$(echo "$body" | python3 -c 'import sys,json; d=json.load(sys.stdin); assert all(a["state"]=="FINISHED" for a in d["analyses"]), d; print(d["folder_id"])')
  times+=("$t")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v e="$ENGINE" '{a[NR]=$1} END {printf "%s upload-to-result (QUALITY+BIOMETRY, n=%d): p50 %.0f ms, p90 %.0f ms\n", e, NR, a[int((NR+1)/2)]*1000, a[int(NR*0.9+0.5)]*1000}'
if command -v wrk >/dev/null; then
  wrk -t2 -c32 -d10s -H "$H" "$B/api/folders/$FID/" | sed "s/^/$ENGINE GET folder: /" | grep -E "Requests/sec|Latency"
fi
