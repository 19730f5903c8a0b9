#!/bin/sh
# run_all.sh BUILD_DIR - runs every test binary, then the leak scan, keeps
# each one's output under tests/run/logs/ and ends with one summary line.
set -u
b=${1:?usage: run_all.sh BUILD_DIR}
run=tests/run
rm -rf "$run"
mkdir -p "$run/logs"
export MDCRED_BIN="$b/mdcred" EMULATOR_BIN="$b/mdcred-emulator" TEST_RUN_DIR="$run" \
	VAULT_HOST_BIN="$b/vault-host" PLUGIN_BIN="$b/vault-plugin-secrets-motherduck"
passed=0 failed=0
for t in "$b"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	CK_FORK=yes "$t" >"$run/logs/$name.log" 2>&1
	rc=$?
	cat "$run/logs/$name.log"
	# Check's summary line: "NN%: Checks: N, Failures: F, Errors: E"
	sum=$(grep -E '^[0-9]+%: Checks: ' "$run/logs/$name.log" | tail -n 1)
	n=$(printf '%s' "$sum" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	f=$(printf '%s' "$sum" | sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2/')
	if [ -z "$sum" ]; then
		echo "$name: no Check summary (exit $rc)"
		failed=$((failed + 1))
		continue
	fi
	bad=$(( ${f% *} + ${f#* } ))
	passed=$((passed + n - bad))
	failed=$((failed + bad))
	[ "$rc" -eq 0 ] || [ "$bad" -gt 0 ] || failed=$((failed + 1))
done
# Fuzz targets (built only outside SANITIZE=1): their committed crash
# inputs, then a short run each from the committed corpus (tests/fuzz/run.sh).
for f in "$b"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	if sh tests/fuzz/run.sh "$f" "$run/fuzz"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
# What may include what (lib/README.md).
if sh tests/layers.sh; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
if sh tests/leakscan.sh "$run"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
