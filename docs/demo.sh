#!/usr/bin/env bash
# Regenerates docs/demo.txt from a real terminal: `keyless demo` runs in a detached tmux session of 120 x 50 and
# the whole pane, scrollback included (wrapped lines joined), is captured once the demo has exited. The demo
# prints no colours; if it ever does, they are kept in docs/demo.ansi beside the stripped docs/demo.txt.
#   docs/demo.sh                      # builds with cargo run --release --locked
#   KEYLESS_BIN=path/to/keyless docs/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux > /dev/null || { echo "docs/demo.sh needs tmux (apt-get install tmux)" >&2; exit 2; }
if [ -z "${KEYLESS_BIN:-}" ]; then
  cargo build --release --locked -q -p keyless
  KEYLESS_BIN="${CARGO_TARGET_DIR:-target}/release/keyless"
fi
bin=$(cd "$(dirname "$KEYLESS_BIN")" && pwd)/$(basename "$KEYLESS_BIN")
# A private tmux server (its own socket and config), so no user configuration or running session interferes.
socket="keyless-demo-$$"
conf=$(mktemp)
done_file=$(mktemp)
echo 'set -g history-limit 10000' > "$conf"
t() { tmux -L "$socket" -f "$conf" "$@"; }
trap 't kill-server 2>/dev/null || true; rm -f "$done_file" "$conf"' EXIT
# The prompt line is part of the recording, as a user would type it.
t new-session -d -s demo -x 120 -y 50 \
  "printf '\$ keyless demo\n'; TERM=xterm-256color '$bin' demo; echo \$? > '$done_file'; sleep 30"
for _ in $(seq 1 300); do
  [ -s "$done_file" ] && break
  sleep 0.1
done
[ -s "$done_file" ] || { echo "docs/demo.sh: keyless demo did not finish within 30 s" >&2; exit 1; }
code=$(cat "$done_file")
t capture-pane -t demo -p -e -J -S - | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' > docs/demo.ansi
if ! grep -q $'\e' docs/demo.ansi; then rm docs/demo.ansi; fi
t capture-pane -t demo -p -J -S - | sed -e 's/[[:space:]]*$//' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' > docs/demo.txt
echo "docs/demo.sh: keyless demo exited $code; wrote docs/demo.txt ($(wc -l < docs/demo.txt) lines)"
[ "$code" -eq 0 ]
