#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60. Uses the nightly toolchain when installed, else stable with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Zsanitizer). Installs cargo-fuzz from crates.io if missing.
# New inputs go to fuzz/target/corpus/<target> (the committed seeds in fuzz/corpus/<target> are
# only read); crashes go to fuzz/artifacts/<target>/. Each run's last stats line is printed and the
# libFuzzer log is kept in fuzz/target/logs/<target>.log. Exits non-zero if any target failed.
# Environment: FUZZ_JOBS (parallel jobs per target, default 1), FUZZ_SANITIZER (address|none,
# default address), FUZZ_RSS_MB (libFuzzer -rss_limit_mb, default 2048), FUZZ_TIMEOUT (seconds per
# input, default 10), FUZZ_FEATURES="--no-default-features" to build only the vision targets.
set -euo pipefail

cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (crates.io)"
    cargo install cargo-fuzz --locked
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    tc=(+nightly)
    echo "toolchain: nightly"
else
    tc=()
    export RUSTC_BOOTSTRAP=1
    echo "toolchain: stable with RUSTC_BOOTSTRAP=1"
fi

# The ONNX Runtime library is loaded at run time only by inference; no target needs it.
sanitizer="${FUZZ_SANITIZER:-address}"
read -r -a features <<<"${FUZZ_FEATURES:-}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    if [[ "${FUZZ_FEATURES:-}" == *no-default-features* ]]; then
        targets=(media_decode image_decode zip_shot_set template_parse)
    else
        mapfile -t targets < <(cargo "${tc[@]}" fuzz list)
    fi
fi

for t in "${targets[@]}"; do
    cargo "${tc[@]}" fuzz build -s "$sanitizer" "${features[@]}" "$t"
done
jobs=()
if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
    jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
fi

mkdir -p fuzz/target/logs
failed=()
for t in "${targets[@]}"; do
    work="fuzz/target/corpus/$t"
    mkdir -p "$work" "fuzz/corpus/$t"
    log="fuzz/target/logs/$t.log"
    echo "== $t: ${secs}s"
    set +e
    cargo "${tc[@]}" fuzz run -s "$sanitizer" "${features[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
        -malloc_limit_mb="${FUZZ_RSS_MB:-2048}" "${jobs[@]}" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    grep -E '^#[0-9]+' "$log" | tail -1 || true
    grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss_mb' "$log" || true
    if [ $rc -ne 0 ]; then
        echo "!! $t failed (exit $rc), see $log and fuzz/artifacts/$t/"
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "failed targets: ${failed[*]}"
    exit 1
fi
echo "all targets ran ${secs}s without a finding"
