#!/bin/sh
# User test: runs inside the image under test.
set -e
out=$(/usr/local/bin/hello)
case "$out" in
  "hello from demo base"*) echo "ok: $out" ;;
  *) echo "unexpected output: $out" >&2; exit 1 ;;
esac
