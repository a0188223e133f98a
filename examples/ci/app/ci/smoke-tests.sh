#!/usr/bin/env bash
# Smoke tests of a deployment: URL (a file:// path) VERSION.
set -euo pipefail
dir="${1#file://}"
version="${2:?usage: smoke-tests.sh URL VERSION}"
[ "$(cat "$dir/VERSION")" = "$version" ] || { echo "deployed $(cat "$dir/VERSION"), expected $version" >&2; exit 1; }
out="$("$dir/greet" smoke)"
[ "$(head -n1 <<<"$out")" = "Hello, smoke!" ] || { echo "unexpected output: $out" >&2; exit 1; }
echo "smoke tests passed on $1"
