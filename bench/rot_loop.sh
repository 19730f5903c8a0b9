#!/bin/sh
# rot_loop.sh BASE_URL HEADER_FILE DIR ROUND USERNAME... - the baseline of
# the rotation benchmark: the seed's curl commands (service-accounts.txt),
# one account after the other, doing what `mdcred rotate` does for a role:
# mint a token (POST /v1/users/{username}/tokens, piped to jq as the seed
# does), write it to DIR/USERNAME.token atomically (umask 077, temp file,
# mv), then revoke the previous token by id
# (DELETE /v1/users/{username}/tokens/{token_id}, ids kept in DIR/USERNAME.id).
# An account without a previous id (no DIR/USERNAME.id yet) revokes nothing.
# The admin token stays in HEADER_FILE (curl -H @file), the new one goes from
# jq's stdout into the file: no token in argv. Prints nothing; exits with the
# number of accounts that failed (at most 255).
set -u
url=$1 hdr=$2 dir=$3 round=$4
shift 4
umask 077
fail=0
for u in "$@"; do
	old=
	[ -s "$dir/$u.id" ] && old=$(cat "$dir/$u.id")
	curl -sS -f -X POST "$url/v1/users/$u/tokens" -H @"$hdr" \
		-H 'Content-Type: application/json' \
		-d "{\"name\":\"loop-$u-$round\",\"token_type\":\"read_write\",\"ttl\":86400}" |
		jq -r '.id, .token' | { read -r id && cat >"$dir/$u.token.tmp" &&
			printf '%s\n' "$id" >"$dir/$u.id.new"; }
	if [ ! -s "$dir/$u.id.new" ] || [ ! -s "$dir/$u.token.tmp" ]; then
		rm -f "$dir/$u.id.new" "$dir/$u.token.tmp"
		fail=$((fail + 1))
		continue
	fi
	mv "$dir/$u.token.tmp" "$dir/$u.token"
	if [ -n "$old" ] && ! curl -sS -f -X DELETE "$url/v1/users/$u/tokens/$old" -H @"$hdr" -o /dev/null; then
		fail=$((fail + 1))
	fi
	mv "$dir/$u.id.new" "$dir/$u.id"
done
[ $fail -gt 255 ] && fail=255
exit $fail
