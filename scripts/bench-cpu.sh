#!/usr/bin/env bash
# Where the CPU of one QUALITY + best shot goes (issue #10 §4), on phone-like clips: 720x1280 and
# 1080x1920, 4 s at 30 fps, H.264 High at two bitrates each (made here from the Obama portrait of
# ../shared/faces with a slow zoom/pan and light sensor noise, so the encoder spends its bits).
# For each clip: FFmpeg's own decode-only run (`ffmpeg -threads 2 -i clip -f null -`, CPU and
# wall, median of 5) as the yardstick, and `oz-server analyze` (the QUALITY pipeline with best
# shot: decode, detect, align, liveness, pose, quality, JPEG), per-stage milliseconds (median of 5
# analyses in one process) and the process CPU seconds per analysis ((CPU of 6 analyses - CPU of
# 1) / 5, so model loading is left out). Usage: scripts/bench-cpu.sh  (OZ_SERVER_BIN, SRC)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${OZ_SERVER_BIN:-target/release/oz-server}"
SRC="${SRC:-../shared/faces/fr_obama.jpg}"
[ -x "$BIN" ] || cargo build --release -p oz-server
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
FF=(ffmpeg -hide_banner -loglevel error -y)
"${FF[@]}" -loop 1 -framerate 30 -i "$SRC" -frames:v 120 \
  -vf "crop=640:1137:135:0,scale=2160:3840:flags=lanczos,zoompan=z='1+0.25*on/119':x='(iw-iw/zoom)/2*(1+0.6*sin(on/19))':y='(ih-ih/zoom)*0.35':d=1:s=1080x1920:fps=30,noise=alls=5:allf=t,format=yuv420p" \
  -c:v ffv1 "$work/master.mkv"
clips=()
for spec in 720x1280:2M 720x1280:6M 1080x1920:4M 1080x1920:12M; do
  size="${spec%%:*}"; rate="${spec##*:}"
  out="$work/clip_${size}_${rate}.mp4"
  "${FF[@]}" -i "$work/master.mkv" -vf "scale=${size/x/:}:flags=area" -c:v libx264 -profile:v high -preset faster \
    -pix_fmt yuv420p -g 30 -b:v "$rate" -maxrate "$rate" -bufsize "$rate" -threads 2 -an "$out"
  clips+=("$out")
done
cpu() { # command... -> "cpu_seconds wall_seconds"
  /usr/bin/time -f "%U %S %e" -o "$work/t" "$@" >/dev/null 2>&1
  awk '{printf "%.3f %.3f\n", $1 + $2, $3}' "$work/t"
}
printf '| clip | size | ffmpeg decode CPU / wall (ms) | openoz decode | detect | align | liveness | pose | quality | best shot JPEG | openoz CPU per analysis (ms) |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for c in "${clips[@]}"; do
  ff=()
  for _ in 1 2 3 4 5; do ff+=("$(cpu ffmpeg -threads 2 -i "$c" -f null -)"); done
  one="$(cpu "$BIN" analyze --json "$c")"
  six="$(cpu "$BIN" analyze --json "$c" "$c" "$c" "$c" "$c" "$c")"
  "$BIN" analyze --json "$c" "$c" "$c" "$c" "$c" "$c" 2>/dev/null > "$work/json"
  python3 - "$c" "$one" "$six" "$work/json" "${ff[@]}" <<'PY'
import json, os, statistics as st, sys
clip, one, six, path = sys.argv[1:5]
ff = [tuple(map(float, x.split())) for x in sys.argv[5:]]
rows = [json.loads(l) for l in open(path) if l.strip()][1:]
med = lambda k: st.median(r["timings"][k] for r in rows)
per = (float(six.split()[0]) - float(one.split()[0])) / 5 * 1000
name = os.path.basename(clip)[5:-4].replace("_", " @ ")
size = os.path.getsize(clip) / 1e6
print(f"| {name} | {size:.1f} MB | {st.median(x[0] for x in ff)*1000:.0f} / {st.median(x[1] for x in ff)*1000:.0f} "
      f"| {med('decode_ms'):.0f} | {med('detect_ms'):.0f} | {med('align_ms'):.1f} | {med('liveness_ms'):.0f} | {med('pose_ms'):.0f} "
      f"| {med('quality_ms'):.1f} | {med('best_shot_ms'):.0f} | {per:.0f} |")
PY
done
