#!/bin/sh
# bench.sh BUILD_DIR - `make bench`: mdcred against the seed's own ways of
# minting (curl | jq, Python requests) and a bare curl POST, and exec
# injection against plain env, side by side; rotating BENCH_ROLES (default
# 1000) roles with `rotate --config` against a shell loop of the seed's curl
# commands, with 20 ms of latency per request (bench/rotate_bench.py, its own
# emulator); the wall-clock deadlines tests do not assert (bench/deadlines.c,
# the plugin's broker deadline); writes bench/RESULTS.md.
# No token appears in a command line: the admin token is read from a 0600
# header file and the env comparison uses a dummy value of the same length.
set -eu
b=${1:-build}
run=bench/run
rm -rf "$run"
mkdir -p "$run/requested"
req=$(cd "$run/requested" && pwd)
runs=${BENCH_RUNS:-40}
emu_pid=
trap '[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

"$b/mdcred-emulator" --admin-token-file "$req/admin.token" --record-tokens "$run/tokens.record" \
	>"$run/url" 2>"$run/emulator.log" &
emu_pid=$!
i=0
while [ ! -s "$run/url" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
url=$(head -n 1 "$run/url")
export MOTHERDUCK_API_BASE_URL="$url" MOTHERDUCK_ADMIN_TOKEN_FILE="$req/admin.token"
md=$(cd "$b" && pwd)/mdcred
user=bench_service_account
"$md" account create $user >/dev/null 2>&1
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$req/admin.token")" >"$req/auth.header")
"$md" token create $user --ttl 1h --format json --output "$req/token.json" 2>/dev/null
dummy=$(head -c "$(jq -r '.token | length' "$req/token.json")" /dev/zero | tr '\0' x)
py=/usr/bin/python3

post="curl -s -X POST $url/v1/users/$user/tokens -H @$req/auth.header -H 'Content-Type: application/json'"
body='-d "{\"name\":\"curl-$$\",\"token_type\":\"read_write\",\"ttl\":86400}"'
c_md="$md token create $user >/dev/null 2>&1"
c_bare="$post $body -o /dev/null"
c_jq="$post $body | jq -r .token >/dev/null"
c_py="$py $(pwd)/bench/seed_mint.py $url $req/auth.header $user"
c_exec="$md exec --from file://$req/token.json $user -- /bin/true"
c_env="env MOTHERDUCK_TOKEN=$dummy /bin/true"

hyperfine --style basic --warmup 5 --runs "$runs" --export-json "$run/mint.json" \
	-n "mdcred token create" "$c_md" -n "curl POST (bare)" "$c_bare" \
	-n "curl | jq (seed)" "$c_jq" -n "python requests (seed)" "$c_py" >"$run/mint.txt"
hyperfine --style basic --warmup 10 --runs $((runs * 3)) --export-json "$run/exec.json" \
	-n "env MOTHERDUCK_TOKEN=... /bin/true" "$c_env" \
	-n "mdcred exec --from file:// -- /bin/true" "$c_exec" >"$run/exec.txt"
hyperfine -N --style basic --warmup 10 --runs $((runs * 2)) --export-json "$run/start.json" \
	-n "mdcred help (libc only)" "$md help" \
	-n "mdcred token list, port closed (loads libcurl)" \
	"$md --retries 0 --api-url http://127.0.0.1:9 token list $user" -i >"$run/start.txt"
$py bench/peak_rss.py 9 "mdcred token create::$c_md" "curl POST (bare)::$c_bare" \
	"curl | jq (seed)::$c_jq" "python requests (seed)::$c_py" \
	"env MOTHERDUCK_TOKEN=... /bin/true::$c_env" \
	"mdcred exec --from file:// -- /bin/true::$c_exec" >"$run/rss.json"
$py bench/plugin_bench.py "$b/vault-host" "$b/vault-plugin-secrets-motherduck" \
	"$b/go-reference-plugin" "$run/plugin.json"
$py bench/rotate_bench.py "$b" "$run"
# Wall-clock numbers the tests do not assert: the multi driver's stop, and
# the plugin's deadline for a broker id that never comes (about 5 s).
"$b/bench/deadlines" >"$run/deadlines.json"
mkdir -p "$run/broker-sock"
"$b/vault-host" -plugin "$b/vault-plugin-secrets-motherduck" -storage "$run/broker-storage.json" \
	-log "$run/broker-plugin.log" -env "TMPDIR=$run/broker-sock" setup-no-broker >"$run/broker.json"
$py bench/report.py "$run"
sh tests/leakscan.sh "$run"
