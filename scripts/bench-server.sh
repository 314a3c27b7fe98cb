# Sourced by the benchmark scripts (bench-api.sh, bench-load.sh): starts a release oz-server on
# OZ_DATA_DIR=$DATA, 127.0.0.1:$PORT (admin bench@example.com), stops it and removes $DATA on exit,
# waits until it answers, and sets PID, B (base URL), TOKEN (an admin access token), H (the token
# header) and PAYLOAD (video + ID photo folder with QUALITY + BIOMETRY, single request).
# Needs DATA, PORT; uses OZ_SERVER_BIN (default target/release/oz-server).
BIN="${OZ_SERVER_BIN:-target/release/oz-server}"
[ -x "$BIN" ] || cargo build --release -p oz-server
export OZ_DATA_DIR="$DATA" OZ_LISTEN="127.0.0.1:$PORT" OZ_ADMIN_EMAIL=bench@example.com OZ_ADMIN_PASSWORD=bench-password
export RUST_LOG=warn OZ_ATTACHMENT_MAX_SIZE=20000000
"$BIN" serve &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
B="http://127.0.0.1:$PORT"
for _ in $(seq 200); do curl -sf "$B/api/version" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -s "$B/api/authorize/auth" -d '{"credentials":{"email":"bench@example.com","password":"bench-password"}}' |
  python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
H="X-Forensic-Access-Token: $TOKEN"
PAYLOAD='{"media:tags":{"video1":["video_selfie","video_selfie_blank"],"photo1":["photo_id","photo_id_front"]},"analyses":[{"type":"quality"},{"type":"biometry"}]}'
