#!/bin/sh
# run_all.sh BUILD_DIR - runs every test, side by side, then the leak scan;
# keeps each job's output under tests/run/logs/ and ends with one summary
# line: "check: N passed, M failed, K skipped (S s)".
#
# Jobs: each unit test binary; each integration test case, in a process of
# its own with its own emulator and fakes on ports the OS picks
# (`test_integration --list`); each fuzz target after its committed crash
# inputs, for FUZZ_SECONDS (default 2: a number of executions varies too
# much in time from run to run) or, when set, FUZZ_RUNS executions; the
# layers check. At most TEST_JOBS run at once (default 4 per core: most
# jobs wait on servers and on mdcred's timeouts), the longest first as the
# last run measured them ($BUILD_DIR/tests/durations). The leak scan runs
# last, alone, over everything the run produced.
#
# Counts: every Check test is one check; a test that prints a line starting
# "SKIPPED: " (it could not run here: no kernel keyring, not root) counts as
# skipped, not passed. A fuzz target, the layers check and the leak scan
# are one check each.
#
# Internal: run_all.sh --job NAME runs one job (the pool calls it).
set -u
run=tests/run

# One job: its output to logs/NAME.log, "EXIT SECONDS" to status/NAME.
if [ "${1:-}" = --job ]; then
	name=$2
	set -- $(grep "^$name " "$run/jobs")
	kind=$2
	t0=$(date +%s.%N)
	case $kind in
	unit) CK_FORK=yes "$3" ;;
	integ) CK_FORK=yes CK_RUN_SUITE=$3 CK_RUN_CASE=$4 "$B/tests/test_integration" ;;
	fuzz) sh tests/fuzz/run.sh "$3" "$run/fuzz" ;;
	layers) sh tests/layers.sh ;;
	esac >"$run/logs/$name.log" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	echo "$rc $secs" >"$run/status/$name"
	printf '  %6s s  %s%s\n' "$secs" "$name" "$([ "$rc" -eq 0 ] || echo " (exit $rc)")"
	exit 0
fi

b=${1:?usage: run_all.sh BUILD_DIR}
start=$(date +%s.%N)
rm -rf "$run"
mkdir -p "$run/logs" "$run/status"
B=$b
# The fakes' interpreter, resolved once: a version manager's shim in PATH
# costs more than a fake's own start, and the fakes start many times.
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || PYTHON=python3
export B PYTHON MDCRED_BIN="$b/mdcred" EMULATOR_BIN="$b/mdcred-emulator" TEST_RUN_DIR="$run" \
	VAULT_HOST_BIN="$b/vault-host" PLUGIN_BIN="$b/vault-plugin-secrets-motherduck" \
	FUZZ_SECONDS="${FUZZ_SECONDS:-2}" FUZZ_RUNS="${FUZZ_RUNS:-}"
cores=$(nproc 2>/dev/null || echo 2)
jobs=${TEST_JOBS:-$((cores * 4))}

# The job list, "NAME KIND ARG...", in report order.
{
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] && [ "${t##*/}" != test_integration ] && echo "${t##*/} unit $t"
	done
	if [ -x "$b/tests/test_integration" ]; then
		"$b/tests/test_integration" --list | while read -r suite case; do
			echo "integration:$suite:$case integ $suite $case"
		done
	fi
	# Fuzz targets are built only outside SANITIZE=1.
	for f in "$b"/fuzz/fuzz_*; do
		[ -x "$f" ] && echo "${f##*/} fuzz $f"
	done
	echo "layers layers"
} >"$run/jobs"

# The longest first: last run's seconds, a job not measured yet first of all.
durations="$b/tests/durations"
touch "$durations"
awk -v last="$durations" 'FILENAME == last { d[$1] = $2; next }
	{ print ($1 in d ? d[$1] : 1e9), $1 }' "$durations" "$run/jobs" | sort -k1,1 -g -r | cut -d' ' -f2 >"$run/order"
echo "running $(wc -l <"$run/jobs") jobs, $jobs at a time:"
xargs -P "$jobs" -I{} sh "$0" --job {} <"$run/order"

passed=0 failed=0 skipped=0
: >"$durations.new"
while read -r name kind rest; do
	log="$run/logs/$name.log"
	cat "$log" 2>/dev/null
	set -- $(cat "$run/status/$name" 2>/dev/null || echo "255 0")
	rc=$1
	echo "$name $2" >>"$durations.new"
	if [ "$kind" = unit ] || [ "$kind" = integ ]; then
		# Check's summary line: "NN%: Checks: N, Failures: F, Errors: E"
		sum=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
		if [ -z "$sum" ]; then
			echo "$name: no Check summary (exit $rc)"
			failed=$((failed + 1))
			continue
		fi
		n=$(printf '%s' "$sum" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		f=$(printf '%s' "$sum" | sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2/')
		bad=$(( ${f% *} + ${f#* } ))
		skip=$(grep -c '^SKIPPED: ' "$log")
		passed=$((passed + n - bad - skip))
		failed=$((failed + bad))
		skipped=$((skipped + skip))
		[ "$rc" -eq 0 ] || [ "$bad" -gt 0 ] || failed=$((failed + 1))
	elif [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done <"$run/jobs"
mv "$durations.new" "$durations"

# Last and alone: everything the run produced, every server's tokens.
if sh tests/leakscan.sh "$run"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
echo "check: $passed passed, $failed failed, $skipped skipped ($secs s)"
[ "$failed" -eq 0 ]
