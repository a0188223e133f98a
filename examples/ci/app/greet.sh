#!/usr/bin/env bash
# greet: the example application. `greet NAME` prints a greeting with the
# release it belongs to; its words come from the bundled dependencies.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deps="${GREET_DEPS:-$here/.deps}"
# shellcheck source=/dev/null
for lib in "$deps"/*/lib.sh; do
  if [ -f "$lib" ]; then . "$lib"; fi
done

greeting() {
  local name="${1:-world}"
  if [ -z "${name//[[:alnum:] _-]/}" ]; then
    printf '%s, %s!\n' "$(salutation)" "$name"
  else
    echo "error: a name has letters, digits, spaces, '-' and '_' only" >&2
    return 2
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  greeting "$@"
  if [ -f "$here/VERSION" ]; then echo "release $(cat "$here/VERSION")"; fi
fi
