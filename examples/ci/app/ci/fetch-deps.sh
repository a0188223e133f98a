#!/usr/bin/env bash
# "Downloads" the dependencies in deps.txt into .deps/: slow on purpose
# (a second per package), which the build job's cache saves on later runs.
set -euo pipefail
while read -r name version; do
  [ -n "$name" ] || continue
  echo "fetching $name $version"
  sleep 1
  mkdir -p ".deps/$name-$version"
  printf '%s() { echo Hello; }\n' "$name" > ".deps/$name-$version/lib.sh"
done < deps.txt
