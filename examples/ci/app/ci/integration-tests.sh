#!/usr/bin/env bash
# Integration tests of the built artifact: DIR VERSION.
set -euo pipefail
dir="${1:?usage: integration-tests.sh DIR VERSION}"
version="${2:?}"
chmod +x "$dir/greet"
out="$("$dir/greet" Ada)"
[ "$out" = "$(printf 'Hello, Ada!\nrelease %s' "$version")" ] || { echo "unexpected output: $out" >&2; exit 1; }
if "$dir/greet" 'x;y' 2>/dev/null; then echo "a bad name was accepted" >&2; exit 1; fi
echo "integration tests: 2 passed"
