#!/usr/bin/env bash
# Admission under load: fires N (default 200) parallel liveness requests (a real selfie, raw JPEG)
# at a local server and measures GET /api/version latency meanwhile (one request after another,
# on its own connection), then prints status counts and percentiles.
#
#   scripts/load-admission.sh                      # ./target/release/oz-server, else ./target/debug/oz-server
#   BIN=./target/debug/oz-server N=200 OZ_MAX_INFLIGHT=2 scripts/load-admission.sh
#
# Starts its own server on 127.0.0.1:$PORT with a throw-away data folder (every OZ_* variable of
# the environment applies, e.g. OZ_MAX_INFLIGHT, OZ_ADMISSION_QUEUE, OZ_ADMISSION_WAIT_MS). The
# client is Python asyncio + httpx, installed by this script in a virtual environment
# ($OZ_LOAD_VENV, default /tmp/oz-load-venv) from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-200}"
PORT="${PORT:-18091}"
BIN="${BIN:-}"
if [ -z "$BIN" ]; then
  if [ -x target/release/oz-server ]; then BIN=target/release/oz-server; else BIN=target/debug/oz-server; fi
fi
[ -x "$BIN" ] || { echo "no server binary at $BIN: cargo build -p oz-server first" >&2; exit 1; }
VENV="${OZ_LOAD_VENV:-/tmp/oz-load-venv}"
if ! "$VENV/bin/python" -c 'import httpx' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'httpx>=0.27,<1'
fi

DATA="$(mktemp -d /tmp/oz-load.XXXXXX)"
export OZ_DATA_DIR="$DATA" OZ_LISTEN="127.0.0.1:$PORT" RUST_LOG="${RUST_LOG:-warn}"
"$BIN" serve &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
B="http://127.0.0.1:$PORT"
for _ in $(seq 600); do curl -sf "$B/api/version" >/dev/null && break; sleep 0.1; done
curl -sf "$B/api/version" >/dev/null || { echo "the server did not start" >&2; exit 1; }

echo "binary: $BIN, cores: $(nproc), parallel liveness requests: $N," \
  "OZ_MAX_INFLIGHT=${OZ_MAX_INFLIGHT:-cores} OZ_ADMISSION_QUEUE=${OZ_ADMISSION_QUEUE:-=max_inflight}" \
  "OZ_ADMISSION_WAIT_MS=${OZ_ADMISSION_WAIT_MS:-3000}"
"$VENV/bin/python" - "$B" "$N" tests/fixtures/faces/live/obama__portrait.jpg <<'PY'
import asyncio, collections, sys, threading, time
import httpx

base, n, image = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read()

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000 if xs else float("nan")

def probe(stop, out):
    # Its own thread and connection, so the load generator's event loop does not delay it.
    with httpx.Client(timeout=30.0) as c:
        while not stop.is_set():
            t = time.perf_counter()
            r = c.get(base + "/api/version")
            out.append(time.perf_counter() - t)
            assert r.status_code == 200, r.status_code
            time.sleep(0.005)

async def liveness(client, results):
    t = time.perf_counter()
    r = await client.post(base + "/v1/face/liveness/detect", content=image, headers={"Content-Type": "image/jpeg"})
    results.append((r.status_code, time.perf_counter() - t, r.headers.get("retry-after")))

async def main():
    timeout = httpx.Timeout(120.0)
    async with httpx.AsyncClient(timeout=timeout) as c:
        base_lat = []
        for _ in range(100):
            t = time.perf_counter()
            (await c.get(base + "/api/version")).raise_for_status()
            base_lat.append(time.perf_counter() - t)
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as load:
        stop, under = threading.Event(), []
        prober = threading.Thread(target=probe, args=(stop, under))
        prober.start()
        results = []
        t0 = time.perf_counter()
        await asyncio.gather(*(liveness(load, results) for _ in range(n)))
        wall = time.perf_counter() - t0
        stop.set()
        prober.join()
    counts = collections.Counter(s for s, _, _ in results)
    print(f"liveness: {n} requests in {wall:.2f} s, statuses {dict(sorted(counts.items()))}")
    for status in sorted(counts):
        lat = [d for s, d, _ in results if s == status]
        ra = {a for s, _, a in results if s == status}
        extra = f", Retry-After {sorted(x for x in ra if x)}" if status == 503 else ""
        print(f"  {status}: p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms, max {max(lat) * 1000:.0f} ms{extra}")
    print(f"/api/version idle: n={len(base_lat)} p50 {pct(base_lat, 50):.1f} ms, p99 {pct(base_lat, 99):.1f} ms")
    print(f"/api/version under load: n={len(under)} p50 {pct(under, 50):.1f} ms, p99 {pct(under, 99):.1f} ms, "
          f"max {max(under) * 1000:.1f} ms")

asyncio.run(main())
PY
