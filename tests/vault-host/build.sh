#!/bin/sh
# Builds the Go test host (BUILD_DIR/vault-host) and the Go reference plugin
# (BUILD_DIR/go-reference-plugin) offline, in GOPATH mode, against the Debian
# Go packages in /usr/share/gocode. Generated protobuf code lives only under
# BUILD_DIR/gopath; nothing is written to the source tree.
#
# usage: sh tests/vault-host/build.sh BUILD_DIR
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
proto=$root/vendor/proto
mkdir -p "$1"
out=$(cd "$1" && pwd)
gp=$out/gopath
src=$gp/src/mdcred

for tool in go protoc protoc-gen-go; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build.sh: $tool not found (install golang-go, protobuf-compiler, golang-goprotobuf-dev)" >&2
		exit 1
	fi
done
if [ ! -d /usr/share/gocode/src/github.com/hashicorp/go-plugin ]; then
	echo "build.sh: go-plugin not found (install golang-github-hashicorp-go-plugin-dev)" >&2
	exit 1
fi

# Regenerate from scratch so a changed or removed .proto never leaves stale code.
rm -rf "$src"
mkdir -p "$src/vaultmisc" "$src/vaultversion" "$src/vault-host" "$src/go-reference-plugin"

# backend.proto names its Go package (mdcred/vaultpb); protoc-gen-go places it
# under the import path. The two small files have no go_package: one package
# directory each, so their generated package names cannot clash.
protoc -I "$proto" --go_out=plugins=grpc:"$gp/src" "$proto/backend.proto"
protoc -I "$proto" --go_out=plugins=grpc:"$src/vaultmisc" "$proto/vaultmisc.proto"
protoc -I "$proto" --go_out=plugins=grpc:"$src/vaultversion" "$proto/version.proto"

# Copies, not symlinks: GOPATH mode and the build cache treat them reliably.
cp "$here"/host/*.go "$src/vault-host/"
cp "$here"/refplugin/*.go "$src/go-reference-plugin/"

export GO111MODULE=off GOPATH="$gp:/usr/share/gocode" GOCACHE="$out/gocache" GOFLAGS= CGO_ENABLED=0
go build -o "$out/vault-host" mdcred/vault-host
go build -o "$out/go-reference-plugin" mdcred/go-reference-plugin
