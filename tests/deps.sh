#!/bin/sh
# Installs the Debian packages the build and tests need (as root), or prints
# the one apt-get line to run. Arguments: the package names.
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null 2>&1 || true
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
		echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
	exit 0
fi
echo "deps: missing packages; run: sudo apt-get install -y$missing" >&2
exit 1
