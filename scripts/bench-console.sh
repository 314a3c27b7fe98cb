#!/usr/bin/env bash
# The console on 10,000 folders: API latency of the list calls the folders page makes (first page,
# last page, metadata filter, text search, status filter) and the time headless Chromium takes
# from a page change to the rows on screen. Folders are inserted straight into the SQLite file
# (one company, one CLIENT), after one real upload. Usage: scripts/bench-console.sh [N_FOLDERS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${OZ_SERVER_BIN:-target/release/oz-server}"
N="${1:-10000}"
TOOLS="$ROOT/.tools/playwright"
[ -d "$TOOLS/node_modules/playwright-core" ] || npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error playwright-core@1.49.1 >&2
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
OZ_DATA_DIR="$data" OZ_LISTEN="127.0.0.1:$port" OZ_ADMIN_EMAIL=admin@bench.test OZ_ADMIN_PASSWORD=bench-pass-1 \
  RUST_LOG=warn "$BIN" serve >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do curl -fs "$base/api/version" >/dev/null 2>&1 && break; sleep 0.2; done
python3 - "$base" "$data/openoz.db" "$N" "$ROOT" <<'PY'
import json, sqlite3, sys, time, uuid, random, urllib.request
base, db, n, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def call(path, body=None, token=None, method=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method or ("POST" if body is not None else "GET"))
    req.add_header("Content-Type", "application/json")
    if token: req.add_header("X-Forensic-Access-Token", token)
    return json.load(urllib.request.urlopen(req))
admin = call("/api/authorize/auth", {"credentials": {"email": "admin@bench.test", "password": "bench-pass-1"}})["access_token"]
co = call("/api/companies/", {"name": "bench"}, admin)
u = call("/api/users/", {"email": "client@bench.test", "password": "bench-pass-1", "user_type": "CLIENT", "company_id": co["company_id"]}, admin)
con = sqlite3.connect(db, timeout=30)
now = time.time()
statuses = [("FINISHED", "SUCCESS"), ("FINISHED", "DECLINED"), ("FINISHED", "OPERATOR_REQUIRED"), ("INITIAL", "INITIAL"), ("FAILED", "FAILED")]
rows = []
for i in range(n):
    t = now - random.random() * 30 * 86400
    rs, sr = statuses[i % len(statuses)]
    rows.append((str(uuid.uuid4()), co["company_id"], u["user_id"], rs, sr, json.dumps({"transaction_id": f"tx-{i}"}), t, t))
con.executemany("insert into folders (id, company_id, user_id, resolution_status, system_resolution, meta_data, time_created, time_updated) values (?,?,?,?,?,?,?,?)", rows)
con.commit()
print(f"inserted {n} folders")
PY
token="$(curl -fs "$base/api/authorize/auth" -H 'Content-Type: application/json' \
  -d '{"credentials": {"email": "client@bench.test", "password": "bench-pass-1"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
last=$(( N - 25 ))
for q in "limit=25" "limit=25&offset=$last" "limit=25&meta_data=transaction_id%3D%3Dtx-5000" "limit=25&search_text=tx-5000" "limit=25&resolution_status=DECLINED" "limit=100"; do
  times=()
  for i in $(seq 1 15); do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "X-Forensic-Access-Token: $token" "$base/api/folders/?$q&with_user=true&with_company=true")")
  done
  python3 -c 'import sys, statistics as s; t=[float(x)*1000 for x in sys.argv[2:]]; print(f"GET /api/folders/?{sys.argv[1]}: p50 {s.median(t):.1f} ms (n={len(t)})")' "$q" "${times[@]}"
done
NODE_PATH="$TOOLS/node_modules" node - "$base" "$N" <<'JS'
const { chromium } = require('playwright-core');
(async () => {
  const [base, n] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(`${base}/console/`);
  await page.getByLabel('Email').fill('client@bench.test');
  await page.getByLabel('Password').fill('bench-pass-1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#folder-results tbody tr').first().waitFor();
  const times = [];
  for (let i = 0; i < 12; i += 1) {
    const offset = (i % 2) ? Number(n) - 25 : 25 * i;
    const want = `${offset + 1}–${offset + 25} of ${n}`;
    const t = await page.evaluate(async ([hash, want]) => {
      const t0 = performance.now();
      location.hash = hash;
      for (;;) {
        const el = document.querySelector('#folder-results .pager-info');
        if (el && el.textContent === want && document.querySelectorAll('#folder-results tbody tr').length === 25) return performance.now() - t0;
        await new Promise((r) => requestAnimationFrame(r));
      }
    }, [`#/folders?offset=${offset}`, want]);
    times.push(t);
  }
  times.sort((a, b) => a - b);
  console.log(`console: page change to 25 rows on screen, ${n} folders: p50 ${times[6].toFixed(1)} ms, max ${times[11].toFixed(1)} ms (n=12)`);
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
JS
