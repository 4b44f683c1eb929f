#!/usr/bin/env bash
# third-party.sh: the patched copies of dependencies under third_party/
# (third_party/README.md says why each exists).
#
#   hack/third-party.sh verify   rebuild each copy from its pristine module
#                                (checked against the pinned go.sum hash)
#                                and its patch, run the module's own tests of
#                                the patched packages, and fail if the
#                                committed copy differs from the result
#   hack/third-party.sh update   the same, then write the result into
#                                third_party/ (after changing a patch)
#
# Needs the Go module proxy (or a module cache holding the versions).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-verify}"
case "$mode" in verify | update) ;; *)
	echo "usage: $0 verify|update" >&2
	exit 2
	;;
esac

log() { echo "third-party: $*" >&2; }

# copy MODULE VERSION H1SUM PATCH PACKAGES...: the copy of PACKAGES of
# MODULE@VERSION with PATCH applied, at third_party/MODULE.
copy() {
	local mod="$1" ver="$2" sum="$3" rel="$4"
	local patch="$PWD/$rel"
	shift 4
	local work dir got
	work="$(mktemp -d)"
	# shellcheck disable=SC2064 # expand $work now
	trap "rm -rf '$work'" RETURN

	# The replace directive applies to every version of the module: a copy
	# of another version than the one go.mod requires would go unnoticed.
	local req
	req="$(go list -m -f '{{.Version}}' "$mod")"
	if [ "$req" != "$ver" ]; then
		log "go.mod requires $mod $req, the copy is $ver: port $rel to $req"
		return 1
	fi

	local info
	info="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod@$ver")"
	dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")"
	got="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$info")"
	if [ "$got" != "$sum" ]; then
		log "$mod@$ver has hash $got, want $sum"
		return 1
	fi

	cp -r "$dir" "$work/src"
	chmod -R u+w "$work/src"
	(cd "$work/src" && git apply "$patch")
	log "testing the patched packages of $mod@$ver: $*"
	local pkgs=()
	for p in "$@"; do pkgs+=("./$p"); done
	(cd "$work/src" && GOFLAGS=-mod=mod go test -count=1 "${pkgs[@]}" >&2)

	mkdir -p "$work/copy"
	cp "$work/src/go.mod" "$work/src/LICENSE" "$work/copy/"
	for p in "$@"; do
		mkdir -p "$work/copy/$p"
		find "$work/src/$p" -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} "$work/copy/$p/" \;
	done

	local dest="third_party/$mod"
	if [ "$mode" = update ]; then
		rm -rf "$dest"
		mkdir -p "$(dirname "$dest")"
		cp -r "$work/copy" "$dest"
		log "wrote $dest"
	elif ! diff -r "$work/copy" "$dest" >&2; then
		log "$dest is not $mod@$ver with $rel; run '$0 update' (never edit the copy by hand)"
		return 1
	else
		log "$dest is $mod@$ver with $rel"
	fi
}

copy github.com/segmentio/encoding v0.5.4 h1:OW1VRern8Nw6ITAtwSZ7Idrl3MXCFwXHPgqESYfvNt0= \
	third_party/patches/segmentio-encoding-v0.5.4-decoder-buffer.patch \
	json ascii iso8601
