# Shared by bench/render/run and bench/render/load: release builds (the checkout's one target dir), a dev-bearer secret,
# and a `keyless serve` on 127.0.0.1:0 killed on exit. Sourced, not run.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
py=${KEYLESS_VENV:-$root/.venv}/bin/python
[ -x "$py" ] || py=python3
tmp=$(mktemp -d)
chmod 700 "$tmp"
server_pid=
cleanup() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT

build() {
  # NO_BUILD=1: use the binaries already in $CARGO_TARGET_DIR (e.g. while the tree does not build).
  if [ "${NO_BUILD:-0}" != 1 ]; then
    echo "== building (release, $CARGO_TARGET_DIR)"
    (cd "$root" && cargo build --release --quiet -p keyless --bin keyless -p keyless-serve --example render_latency)
    (cd "$root/bench/render/loadgen" && cargo build --release --quiet)
  fi
  keyless=${KEYLESS_BIN:-$CARGO_TARGET_DIR/release/keyless}
  loadgen=$CARGO_TARGET_DIR/release/keyless-bench-render-loadgen
  latency=$CARGO_TARGET_DIR/release/examples/render_latency
  config=$root/crates/serve/tests/fixtures/keyless.yml
}

start_server() {
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/secret")
  RUST_LOG=warn "$keyless" serve -c "$config" --listen 127.0.0.1:0 --ready-file "$tmp/ready" \
    --dev-bearer-secret-file "$tmp/secret" >/dev/null 2>"$tmp/serve.log" &
  server_pid=$!
  for _ in $(seq 300); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
  [ -s "$tmp/ready" ] || { echo "keyless serve did not start:"; cat "$tmp/serve.log"; exit 1; }
  address=$(cat "$tmp/ready")
  url="http://$address/dynamic-pipelines"
  echo "keyless serve: $url (pid $server_pid); cores: $(nproc)"
}
