#!/usr/bin/env bash
# `make run`: the development relay on 127.0.0.1:2525 (prints every message) and maild in the
# foreground on config/maild.dev.toml. Ctrl-C stops both.
set -euo pipefail
python="$1"
bin="$2"
cd "$(dirname "$0")/.."
mkdir -p var/companies.d var/relay
"$python" Tests/Support/relay.py --port 2525 --maildir var/relay --print &
relay=$!
trap 'kill "$relay" 2>/dev/null || true; wait "$relay" 2>/dev/null || true' EXIT
echo "make run: development relay on 127.0.0.1:2525 (pid $relay); maild on var/maild.sock"
echo "make run: try  $bin/mailctl --socket var/maild.sock send --to you@example.com --subject hi --text hello"
"$bin/maild" --config config/maild.dev.toml
