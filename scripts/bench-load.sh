#!/usr/bin/env bash
# Throughput of the full API under load (issue 10 §4): C concurrent clients, each posting
# single-request folders (a 4 s 720x1280 H.264 selfie video + an ID photo, QUALITY + BIOMETRY in
# the payload, answered with the finished analyses) for D seconds, against a release server on the
# embedded SQLite.
#
#   scripts/bench-load.sh            # C=4 D=60 VIDEO=tests/fixtures/videos/portrait_720x1280.mp4
#
# Counted as Oz counts analyses: one analysis type on one media = 1. A folder here is QUALITY on
# the video (the ID photo is tagged photo_id, which QUALITY ignores) + BIOMETRY on the video and the
# photo = 3 analyses. Prints folders and analyses per minute, the latency p50/p90 of a folder, and
# the server's CPU (user + system, from /proc) per folder. Needs curl and python3.
#
# A/B in one sitting (the machines are noisy: compare binaries interleaved, as ratios of medians):
#   OZ_SERVER_BINS="old/oz-server new/oz-server" ROUNDS=3 D=30 scripts/bench-load.sh
# runs each binary once per round, in turn, and prints each one's median CPU per folder and
# analyses per minute, and the ratios to the first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${OZ_SERVER_BINS:-}" ]; then
  out="$(mktemp /tmp/oz-load-ab.XXXXXX)"
  for r in $(seq "${ROUNDS:-3}"); do
    for b in $OZ_SERVER_BINS; do
      line=$(OZ_SERVER_BINS="" OZ_SERVER_BIN="$b" bash "$(pwd)/scripts/bench-load.sh" | tail -1)
      echo "round $r, $b: $line"
      printf '%s\t%s\n' "$b" "$line" >>"$out"
    done
  done
  python3 - "$out" <<'PY'
import re, statistics as st, sys
rows = {}
for l in open(sys.argv[1]):
    b, line = l.rstrip("\n").split("\t", 1)
    cpu = float(re.search(r"server CPU (\d+) ms per folder", line).group(1))
    apm = float(re.search(r"= (\d+) analyses/min", line).group(1))
    rows.setdefault(b, []).append((cpu, apm))
first = None
for b, v in rows.items():
    cpu, apm = st.median(c for c, _ in v), st.median(a for _, a in v)
    first = first or (cpu, apm)
    print(f"{b}: median {cpu:.0f} ms CPU per folder ({cpu / first[0]:.2f}x), "
          f"{apm:.0f} analyses/min ({apm / first[1]:.2f}x), {len(v)} runs")
PY
  rm -f "$out"
  exit 0
fi
C="${C:-4}"
D="${D:-60}"
PORT="${PORT:-18091}"
VIDEO="${VIDEO:-tests/fixtures/videos/portrait_720x1280.mp4}"
PHOTO="${PHOTO:-tests/fixtures/faces/live/obama__podium.jpg}"
DATA="$(mktemp -d /tmp/oz-load.XXXXXX)"
# shellcheck source=scripts/bench-server.sh
source scripts/bench-server.sh
post() { # -> "http_code seconds" of one folder
  curl -s -o "$1" -w '%{http_code} %{time_total}\n' -H "$H" "$B/api/folders/" \
    -F "video1=@$VIDEO" -F "photo1=@$PHOTO" -F "payload=$PAYLOAD"
}
# Warm-up: one folder (models' first runs, page cache), checked to finish with both analyses.
post "$DATA/warm.json" >/dev/null
python3 - "$DATA/warm.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [a["state"] for a in d["analyses"]] == ["FINISHED", "FINISHED"], d
PY
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
hz=$(getconf CLK_TCK)
cpu0=$(cpu)
t0=$(date +%s.%N)
# The clients share the 2 cores with the server: check the clock in bash itself (a python3 start
# per folder cost about a tenth of a core).
end_us=$(( ${t0%.*} * 1000000 + 10#${t0#*.} / 1000 + D * 1000000 ))
for w in $(seq "$C"); do
  (
    while (( ${EPOCHREALTIME/./} < end_us )); do
      post "$DATA/w$w.json" >>"$DATA/lat.$w"
    done
  ) &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
t1=$(date +%s.%N)
cpu1=$(cpu)
cat "$DATA"/lat.* >"$DATA/lat"
python3 - "$DATA/lat" "$t0" "$t1" "$cpu0" "$cpu1" "$hz" "$C" "$VIDEO" <<'PY'
import statistics as st, sys
path, t0, t1, c0, c1, hz, conc, video = sys.argv[1:]
rows = [l.split() for l in open(path) if l.strip()]
ok = [float(t) for code, t in rows if code == "201"]
bad = len(rows) - len(ok)
wall = float(t1) - float(t0)
cpu_s = (float(c1) - float(c0)) / float(hz)
ok.sort()
p = lambda q: ok[min(len(ok) - 1, int(q * len(ok)))] * 1000 if ok else float("nan")
print(f"{video}, {conc} clients, {wall:.0f} s: {len(ok)} folders ({bad} failed), "
      f"{len(ok) / wall * 60:.0f} folders/min = {3 * len(ok) / wall * 60:.0f} analyses/min; "
      f"latency p50 {p(0.5):.0f} ms, p90 {p(0.9):.0f} ms; server CPU {cpu_s / max(len(ok), 1) * 1000:.0f} ms per folder "
      f"({cpu_s / wall * 100:.0f}% of one core)")
PY
