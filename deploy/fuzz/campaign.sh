#!/bin/bash
# A recorded fuzzing campaign (issue #16): every cargo-fuzz target in turn for
# SECONDS each (default 540), one job at nice 19, starting from the kept
# corpus; then the corpus is minimised back into fuzz/corpus/TARGET and one
# row per target is appended to fuzz/campaign.log:
#   date  target  seconds  executions  exec/s  coverage(cov)  features(ft)  corpus  crashes
# Crash inputs stay in fuzz/artifacts/TARGET/; copy each into
# fuzz/regressions/TARGET/ with its fix (tests/fuzz_corpus.rs replays them).
# Usage: deploy/fuzz/campaign.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-540}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
log=fuzz/campaign.log
work=$(mktemp -d /tmp/lvsd-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Built once and copied: a later source edit (and the rebuild cargo fuzz
# run would start) does not touch a running campaign.
cargo +nightly fuzz build >/dev/null
bin=fuzz/target/x86_64-unknown-linux-gnu/release
for t in "${targets[@]}"; do
    cp "$bin/$t" "$work/$t.bin"
done
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "$work/$t" "fuzz/artifacts/$t"
    cp -r "fuzz/corpus/$t/." "$work/$t/" 2>/dev/null || true
    out="$work/$t.out"
    started=$(date -u +%Y-%m-%dT%H:%MZ)
    # A crash ends the run early; the row says so and the campaign goes on.
    set +e
    nice -n 19 "$work/$t.bin" "$work/$t" -artifact_prefix="fuzz/artifacts/$t/" \
        -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
        -timeout=10 >"$out" 2>&1
    status=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$out" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*')
    crashes=$(find "fuzz/artifacts/$t" -type f 2>/dev/null | wc -l)
    # Keep a small minimised corpus: the inputs of at most 1 KB that reach
    # all the coverage they reach (a config corpus of every size is MBs).
    rm -rf "$work/$t.min" "$work/$t.small" && mkdir -p "$work/$t.min" "$work/$t.small"
    find "$work/$t" -type f -size -1025c -exec cp {} "$work/$t.small/" \;
    nice -n 19 "$work/$t.bin" -merge=1 "$work/$t.min" "$work/$t.small" >/dev/null 2>&1 || true
    rm -rf "fuzz/corpus/$t" && mkdir -p "fuzz/corpus/$t"
    cp "$work/$t.min/"* "fuzz/corpus/$t/" 2>/dev/null || true
    kept=$(find "fuzz/corpus/$t" -type f | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\texit=%s\n' "$started" "$t" "$seconds" \
        "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$kept" "$crashes" "$status" | tee -a "$log"
done
