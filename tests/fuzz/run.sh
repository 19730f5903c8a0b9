#!/bin/sh
# run.sh BIN RUN_DIR - one fuzz target: first every committed crash input
# (tests/fuzz/regress/NAME/, each must now pass), then fuzzing from the
# committed corpus (tests/fuzz/corpus/NAME/, read only) for FUZZ_SECONDS
# (default 10) or FUZZ_RUNS executions. New inputs go to RUN_DIR/NAME, a
# crash to RUN_DIR/NAME-crash-*. With FUZZ_MERGE=1 the new inputs that add
# coverage are merged into the committed corpus. Prints one summary line:
# NAME: runs, executions per second, coverage (edges), features, corpus.
set -u
bin=${1:?usage: run.sh BIN RUN_DIR}
run=${2:?usage: run.sh BIN RUN_DIR}
name=$(basename "$bin")
here=$(dirname "$0")
corpus="$here/corpus/$name"
regress="$here/regress/$name"
mkdir -p "$run/$name" "$corpus"
log="$run/$name.log"
if [ -d "$regress" ] && [ -n "$(ls -A "$regress" 2>/dev/null)" ]; then
	if ! "$bin" -rss_limit_mb=2048 "$regress"/* >"$run/$name-regress.log" 2>&1; then
		tail -20 "$run/$name-regress.log"
		echo "$name: FAILED on a committed crash input ($regress)"
		exit 1
	fi
fi
if [ -n "${FUZZ_RUNS:-}" ]; then
	limit="-runs=$FUZZ_RUNS"
else
	limit="-max_total_time=${FUZZ_SECONDS:-10}"
fi
if ! "$bin" "$limit" -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$run/$name-" "$run/$name" "$corpus" >"$log" 2>&1; then
	tail -30 "$log"
	echo "$name: FAILED (the crash input is $run/$name-crash-*: add it to $regress)"
	exit 1
fi
if [ "${FUZZ_MERGE:-0}" = 1 ]; then
	"$bin" -merge=1 -rss_limit_mb=2048 "$corpus" "$run/$name" >"$run/$name-merge.log" 2>&1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED).*cov: ' "$log" | tail -n 1 |
	sed -E 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\1 \2 \3/')
set -- $cov
echo "$name: ${runs:-?} runs, ${rate:-?}/s, cov ${1:-?}, ft ${2:-?}, corpus ${3:-?} (committed $(ls "$corpus" | wc -l))"
