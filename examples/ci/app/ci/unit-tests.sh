#!/usr/bin/env bash
# Unit tests of greet's functions, with a stand-in for its dependency.
set -euo pipefail
salutation() { echo Hi; }
# shellcheck source=../greet.sh
GREET_DEPS=/nonexistent . ./greet.sh
pass=0
check() { if [ "$1" = "$2" ]; then pass=$((pass + 1)); else echo "FAIL: '$1' != '$2'" >&2; exit 1; fi; }
check "$(greeting Ada)" "Hi, Ada!"
check "$(greeting)" "Hi, world!"
check "$(greeting 'Grace Hopper')" "Hi, Grace Hopper!"
if greeting 'bad;name' 2>/dev/null; then echo "FAIL: a bad name was accepted" >&2; exit 1; fi
pass=$((pass + 1))
echo "unit tests: $pass passed"
