#!/usr/bin/env bash
# Security scan: no credentials committed (access keys, private keys,
# passwords in assignments).
set -euo pipefail
pattern='AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|password[[:space:]]*=[[:space:]]*["'\''][^"'\'']+'
if grep -rEn --exclude=security-scan.sh "$pattern" .; then
  echo "security scan: credentials found" >&2
  exit 1
fi
echo "security scan: no credentials in $(find . -type f -not -path './.deps/*' | wc -l) files"
