#!/usr/bin/env bash
# A fuzzing campaign: each target in turn, RUNS inputs each, at the lowest CPU priority.
#
#   fuzz/campaign.sh RUNS TARGET...        e.g. fuzz/campaign.sh 1000000 pickle torch
#
# A crash does not end a target's run: the input is kept in fuzz/out/crashes/<target>/ and the
# fuzzer starts again (reloading whyload, so a fix made meanwhile takes effect) for the inputs
# left, at most 20 times. Logs: fuzz/out/logs/<target>.log; totals: fuzz/out/logs/summary.tsv.
# Exits 1 when any target left a crash input.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUNS=$1
shift
declare -A MAX_LEN=([pickle]=16384 [torch]=16384 [safetensors]=16384 [json]=8192 [index]=8192
                    [tokenizer]=8192 [sniff]=8192 [diff-pickle]=16384 [diff-safetensors]=16384
                    [diff-torch]=16384)
declare -A DICT=([json]=fuzz/json.dict [index]=fuzz/json.dict [tokenizer]=fuzz/json.dict
                 [safetensors]=fuzz/json.dict [diff-safetensors]=fuzz/json.dict)
mkdir -p fuzz/out/logs
for target in "$@"; do
    seeds=fuzz/seeds/${target#diff-}
    corpus=fuzz/corpus/$target
    crashes=fuzz/out/crashes/$target
    log=fuzz/out/logs/$target.log
    mkdir -p "$corpus" "$crashes"
    : > "$log"
    dict=()
    [ -n "${DICT[$target]:-}" ] && dict=(-dict="${DICT[$target]}")
    done_runs=0
    restarts=0
    start=$(date +%s)
    while [ "$done_runs" -lt "$RUNS" ] && [ "$restarts" -le 20 ]; do
        PYTHONPATH=src nice -n 19 "$PY" fuzz/fuzz.py "$target" "$corpus" "$seeds" \
            -runs=$((RUNS - done_runs)) -max_len="${MAX_LEN[$target]:-8192}" -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" "${dict[@]}" \
            >> "$log" 2>&1
        ran=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
        done_runs=$((done_runs + ${ran:-0}))
        restarts=$((restarts + 1))
        echo "--- $target: $done_runs inputs so far" >> "$log"
        [ -z "$ran" ] && break
        # the stat line of this run is counted; mark it so that the next grep skips it
        sed -i 's/stat::number_of_executed_units/stat::counted_units/' "$log"
    done
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
    printf '%s\t%s\t%s s\t%s\t%s crash files\n' "$target" "$done_runs" "$(( $(date +%s) - start ))" \
        "$cov" "$(ls "$crashes" | wc -l)" >> fuzz/out/logs/summary.tsv
done
found=0
for target in "$@"; do
    [ -n "$(ls -A "fuzz/out/crashes/$target")" ] && found=1 && echo "crash inputs: fuzz/out/crashes/$target/"
done
exit $found
