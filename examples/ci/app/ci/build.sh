#!/usr/bin/env bash
# Build: the application with its dependencies and its version in dist/.
set -euo pipefail
version="${1:?usage: build.sh VERSION}"
rm -rf dist && mkdir -p dist
cp greet.sh dist/greet && chmod +x dist/greet
cp -R .deps dist/.deps
echo "$version" > dist/VERSION
echo "version=$version" >> "$GITHUB_OUTPUT"
echo "built dist/greet $version with $(ls .deps | wc -l) dependencies"
