#!/bin/sh
# leakscan.sh RUN_DIR - the last test of every run: searches everything the
# run produced under RUN_DIR for every token value the emulator issued
# (RUN_DIR/tokens.record: admin, member and every minted token). Only the
# outputs a test asked for (RUN_DIR/*/requested/) may hold one. Prints file
# names only, never a value. Exit 0 clean, 1 leak or nothing to check.
set -u
run=${1:?usage: leakscan.sh RUN_DIR}
rec="$run/tokens.record"
if [ ! -s "$rec" ]; then
	echo "leakscan: FAIL: $rec is missing or empty: the emulator issued no token?"
	exit 1
fi
pat=$(mktemp "${TMPDIR:-/tmp}/leakscan.XXXXXX")
trap 'rm -f "$pat"' EXIT
grep -v '^$' "$rec" | sort -u >"$pat"
ntok=$(wc -l <"$pat")
nfiles=$(find "$run" -type f ! -path '*/requested/*' ! -name tokens.record | wc -l)
# The scan must be able to see a leak: a canary copy of one issued token.
canary="$run/leakscan-canary"
head -n 1 "$pat" >"$canary"
if ! grep -rlF -f "$pat" "$run" --exclude-dir=requested --exclude=tokens.record | grep -qx "$canary"; then
	rm -f "$canary"
	echo "leakscan: FAIL: the scan did not find its own canary"
	exit 1
fi
rm -f "$canary"
hits=$(grep -rlF -f "$pat" "$run" --exclude-dir=requested --exclude=tokens.record)
if [ -n "$hits" ]; then
	echo "leakscan: FAIL: a token value appears in:"
	printf '%s\n' "$hits" | sed 's/^/  /'
	exit 1
fi
echo "leakscan: $ntok issued token values searched for in $nfiles files: no leak"
