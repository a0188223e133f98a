#!/usr/bin/env bash
# Lint: every script parses, and no line ends in whitespace.
set -euo pipefail
status=0
for f in *.sh ci/*.sh; do
  bash -n "$f" || status=1
  if grep -n '[[:space:]]$' "$f"; then echo "$f: trailing whitespace" >&2; status=1; fi
done
[ "$status" = 0 ] && echo "lint: $(ls *.sh ci/*.sh | wc -l) scripts clean"
exit "$status"
