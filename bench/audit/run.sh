#!/usr/bin/env bash
# keyless audit vs pipeline-check on the same 1,000 pipeline files, in one run. Prints files/s and the ratio.
# Targets (issue 6): keyless >= 2,000 files/s and >= 100x pipeline-check.
# Usage: bench/audit/run.sh [N]   (needs the project venv with pipeline_check: scripts/setup-tools)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000}
venv=${KEYLESS_VENV:-$PWD/.venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-bench}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" bench/audit/gen_corpus.py "$work/corpus" "$n"
cargo build --release -q -p keyless-audit --example audit_bench
read -r kfiles ksecs kfind < <("$CARGO_TARGET_DIR/release/examples/audit_bench" "$work/corpus")
read -r pfiles psecs pfind < <("$venv/bin/python" bench/audit/pc_bench.py "$work/corpus")
python3 - "$kfiles" "$ksecs" "$kfind" "$pfiles" "$psecs" "$pfind" <<'PY'
import sys
kf, ks, kn, pf, ps, pn = sys.argv[1:]
kr, pr = int(kf) / float(ks), int(pf) / float(ps)
print(f"keyless audit   : {kf} files in {float(ks):.3f}s = {kr:,.0f} files/s ({kn} findings)")
print(f"pipeline-check  : {pf} files in {float(ps):.3f}s = {pr:,.1f} files/s ({pn} failed checks)")
print(f"ratio           : {kr / pr:,.0f}x")
PY
