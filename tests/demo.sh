#!/bin/sh
# demo.sh BUILD_DIR - the seed's whole flow against the bundled emulator:
# create a service account, configure its Ducklings, mint read_write and
# read_scaling tokens, run a command with a token injected, push, rotate one
# role and a config file of roles, list, revoke.
# No token is shown on screen: they go to 0600 files and to the child only.
set -eu
b=${1:-build}
work=$(mktemp -d "${TMPDIR:-/tmp}/mdcred-demo.XXXXXX")
emu_pid=
cleanup() {
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$b/mdcred-emulator" --admin-token-file "$work/admin.token" >"$work/url" 2>"$work/emulator.log" &
emu_pid=$!
i=0
while [ ! -s "$work/url" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
MOTHERDUCK_API_BASE_URL=$(head -n 1 "$work/url")
MOTHERDUCK_ADMIN_TOKEN_FILE="$work/admin.token"
export MOTHERDUCK_API_BASE_URL MOTHERDUCK_ADMIN_TOKEN_FILE
echo "# emulator at $MOTHERDUCK_API_BASE_URL; admin token in a 0600 file"

say() {
	printf '\n$ mdcred'
	for a in "$@"; do
		case $a in *" "*) printf " '%s'" "$a" ;; *) printf ' %s' "$a" ;; esac
	done
	printf '\n'
	"$b/mdcred" "$@"
}
sa=analytics_service_account
say account create $sa
say ducklings get $sa
say ducklings set $sa --rw-size standard --rs-size pulse --flock-size 4
say token create $sa --type read_write --ttl 1h --name analytics-service-token \
	--format json --output "$work/rw.json"
say token create $sa --type read_scaling --ttl 12h --format env --output "$work/rs.env"
ls -l "$work/rw.json" "$work/rs.env" | sed 's/^/  /'
say exec --ttl 10m --revoke-on-exit $sa -- sh -c \
	'echo "  child: MOTHERDUCK_TOKEN has ${#MOTHERDUCK_TOKEN} characters; admin token visible: ${MOTHERDUCK_ADMIN_TOKEN:-no}${MOTHERDUCK_ADMIN_TOKEN_FILE:-, admin file: no}"'
say exec --from "file://$work/rw.json" $sa -- sh -c \
	'echo "  child: got the stored token (${#MOTHERDUCK_TOKEN} characters)"'
say push $sa --ttl 1h --store "file://$work/pushed.env?format=env" --store "file://$work/pushed.json"
say rotate $sa --ttl 1h --state-dir "$work/state" --store "file://$work/rotated.json"
say rotate $sa --ttl 1h --state-dir "$work/state" --store "file://$work/rotated.json"
# Many roles from one file, side by side over one libcurl multi handle.
say account create bi_service_account
cat >"$work/roles.conf" <<EOF
ttl = 1d
[analytics]
username = $sa
store = file://$work/roles-analytics.env?format=env
[bi-read]
username = bi_service_account
token_type = read_scaling
store = file://$work/roles-bi.json
EOF
sed 's/^/  /' "$work/roles.conf"
say rotate --config "$work/roles.conf" --state-dir "$work/state" --parallel 4
say rotate --config "$work/roles.conf" --state-dir "$work/state" --json
say token list $sa
ids=$("$b/mdcred" token list $sa --json | jq -r '.tokens[].id')
# shellcheck disable=SC2086
say token revoke $sa $ids
say token list $sa
say account delete $sa

# The Vault/OpenBao plugin, launched as Vault does by the Go test host.
if [ -x "$b/vault-host" ] && [ -x "$b/vault-plugin-secrets-motherduck" ]; then
	vh() {
		{ printf '\n$ vault-host'; printf ' %s' "$@"; printf '\n'; } >&2
		"$b/vault-host" -plugin "$b/vault-plugin-secrets-motherduck" -storage "$work/vault.json" \
			-log "$work/plugin.log" "$@"
	}
	vh mount | jq -c '{type, version, multiplexing, shutdown: .shutdown.graceful}'
	vh write config admin_token=@"$work/admin.token" api_url="$MOTHERDUCK_API_BASE_URL"
	vh read config
	echo "#   plugin log lines: $(wc -l <"$work/plugin.log"), admin token in them: $(grep -c -F -f "$work/admin.token" "$work/plugin.log" || true)"
fi
echo
echo "# demo done: no token was printed; the emulator logged none either:"
echo "#   $(wc -l <"$work/emulator.log") emulator log lines, token values in them: $(grep -c -F -f "$work/admin.token" "$work/emulator.log" || true)"
