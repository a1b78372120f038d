#!/bin/sh
# Lists the commits since the last tag, one line each.
set -eu
last=$(git describe --tags --abbrev=0 2>/dev/null || true)
if [ -n "$last" ]; then
  git log --no-merges --format='%h %s' "$last"..HEAD
else
  git log --no-merges --format='%h %s'
fi
