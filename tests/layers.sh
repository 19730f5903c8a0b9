#!/bin/sh
# layers.sh - what may include what (lib/README.md): each layer of lib/
# uses only the layers below it, the programs only the layers they link,
# and lib/base/ no third-party library (libc; jsmn is a header compiled
# into base/json.c). Prints every include that crosses a boundary it must
# not, and exits 1; else one line, exit 0. Run by `make layers` and in
# `make check`.
set -u
cd "$(dirname "$0")/.." || exit 1
allowed() {
	case $1 in
	lib/base) echo "base" ;;
	lib/net) echo "base net" ;;
	lib/motherduck) echo "base net motherduck" ;;
	lib/store) echo "base net motherduck store" ;;
	lib/deliver) echo "base net motherduck store deliver" ;;
	lib/vault) echo "base net vault" ;;
	helper) echo "base net motherduck store deliver" ;;
	plugin) echo "base net vault" ;;
	emulator) echo "base" ;;
	esac
}
bad=0 n=0
for dir in lib/base lib/net lib/motherduck lib/store lib/deliver lib/vault helper plugin emulator; do
	ok=$(allowed "$dir")
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		# Our headers: "layer/name.h"; the folder's own private ones (the
		# programs' tool.h, plugin.h, emu.h) have no slash.
		for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\/[^"]*\)".*/\1/p' "$f"); do
			layer=${inc%%/*}
			case " $ok " in
			*" $layer "*) ;;
			*) echo "layers: $f includes \"$inc\": $dir may use only: $ok"; bad=1 ;;
			esac
		done
		if [ "$dir" = lib/base ] &&
			grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(curl|openssl|nghttp2|microhttpd|protobuf-c|check)[/.]' "$f"; then
			echo "layers: $f: lib/base links only libc"
			bad=1
		fi
	done
done
if [ "$bad" -ne 0 ]; then
	echo "layers: FAILED"
	exit 1
fi
echo "layers: $n files, every include within its layer's rules"
