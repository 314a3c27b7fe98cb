#!/usr/bin/env bash
# Queue fairness between companies (issue 19, part 2) against a running release server:
#
#   scripts/bench-fairness.sh sqlite     # or: scripts/with-postgres.sh scripts/bench-fairness.sh postgres
#
# Company A uploads 64 photos and queues 20 BIOMETRY analyses of 50 of them (the most one analysis
# may take; without source_media the 64 are refused, which is checked too); then company B queues
# one QUALITY of one photo. Reports how long B's analysis took from its POST to FINISHED, and how
# many of A's analyses were still queued then, ROUNDS times (a new backlog each round), median.
# Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE="${1:-sqlite}"
ROUNDS="${ROUNDS:-5}"
PORT="${PORT:-18093}"
DATA="$(mktemp -d /tmp/oz-bench.XXXXXX)"
if [ "$ENGINE" = postgres ]; then
  name="oz_bench_$$"
  psql "$OZ_TEST_POSTGRES_URL" -qc "create database $name" >/dev/null
  export DATABASE_URL="${OZ_TEST_POSTGRES_URL%/*}/$name"
fi
export OZ_ATTACHMENT_MAX_COUNT=64
# shellcheck source=scripts/bench-server.sh
source scripts/bench-server.sh
B="$B" TOKEN="$TOKEN" ROUNDS="$ROUNDS" ENGINE="$ENGINE" python3 - <<'EOF'
import json, os, statistics, subprocess, time
B, ADMIN, ENGINE = os.environ["B"], os.environ["TOKEN"], os.environ["ENGINE"]
PHOTOS = ["tests/fixtures/faces/live/obama__podium.jpg", "tests/fixtures/faces/live/obama__portrait.jpg",
          "tests/fixtures/faces/live/biden__full.jpg", "tests/fixtures/faces/live/collins__astronaut.png"]

def curl(method, path, token, data=None, files=None):
    cmd = ["curl", "-s", "-X", method, "-H", f"X-Forensic-Access-Token: {token}", "-w", "\n%{http_code}", B + path]
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(data)]
    for name, f in (files or []):
        cmd += ["-F", f"{name}=@{f}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    body, code = out.rsplit("\n", 1)
    return int(code), (json.loads(body) if body.strip() else None)

def company_user(name):
    st, c = curl("POST", "/api/companies/", ADMIN, {"name": name}); assert st == 201, c
    email = f"{name}@example.com"
    st, u = curl("POST", "/api/users/", ADMIN, {"email": email, "password": "password-123", "user_type": "CLIENT",
                                                "company_id": c["company_id"]}); assert st == 201, u
    out = subprocess.run(["curl", "-s", B + "/api/authorize/auth", "-d",
                          json.dumps({"credentials": {"email": email, "password": "password-123"}})],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["access_token"]

a, b = company_user("bench-a"), company_user("bench-b")
st, f = curl("POST", "/api/folders/", a, files=[(f"p{i}", PHOTOS[i % 4]) for i in range(64)]); assert st == 201, f
fid, media = f["folder_id"], [m["media_id"] for m in f["media"]]
st, e = curl("POST", f"/api/folders/{fid}/analyses/", a, {"analyses": [{"type": "BIOMETRY"}]})
assert st == 400 and e["details"]["limit"] == 50, (st, e)
print(f"{ENGINE}: all-media BIOMETRY on 64 photos refused: {st} error {e['error_code']}, limit {e['details']['limit']}")
waits, left, drains = [], [], []
for r in range(int(os.environ["ROUNDS"])):
    t0 = time.time()
    st, made = curl("POST", f"/api/folders/{fid}/analyses/", a,
                    {"analyses": [{"type": "BIOMETRY", "source_media": media[:50]}] * 20}); assert st == 201, made
    a_ids = [x["analysis_id"] for x in made]
    st, fb = curl("POST", "/api/folders/", b, files=[("p", PHOTOS[1])]); assert st == 201, fb
    t1 = time.time()
    st, q = curl("POST", f"/api/folders/{fb['folder_id']}/analyses/", b, {"analyses": [{"type": "QUALITY"}]})
    assert st == 201, q
    while True:
        st, an = curl("GET", f"/api/analyses/{q[0]['analysis_id']}", b)
        if an["state"] != "PROCESSING": break
        time.sleep(0.05)
    assert an["state"] == "FINISHED", an
    waits.append(time.time() - t1)
    n = 0
    for i in a_ids:
        st, x = curl("GET", f"/api/analyses/{i}", a); n += x["state"] == "PROCESSING"
    left.append(n)
    while any(curl("GET", f"/api/analyses/{i}", a)[1]["state"] == "PROCESSING" for i in a_ids):
        time.sleep(0.2)
    drains.append(time.time() - t0)
    print(f"{ENGINE} round {r + 1}: B's QUALITY {waits[-1]:.2f} s; A's analyses unfinished then {n}/20; "
          f"A's backlog done after {drains[-1]:.1f} s")
print(f"{ENGINE}: B's one-photo QUALITY behind A's 20 x 50-photo BIOMETRY: median {statistics.median(waits):.2f} s, "
      f"max {max(waits):.2f} s (n={len(waits)}); A's backlog median {statistics.median(drains):.1f} s")
EOF
