#!/usr/bin/env bash
# keyless audit vs pipeline-check on the same 1,000 pipeline files, in one run. Prints files/s and the ratio.
# Targets (issue 6): keyless >= 2,000 files/s and >= 100x pipeline-check.
# Usage: bench/audit/run.sh [N] [RUNS]   (needs the project venv with pipeline_check: scripts/setup-tools)
# Both tools are warmed up on one file, then the fastest of RUNS rounds is kept (keyless: 20 by default, half
# before and half after pipeline-check's; pipeline-check: 3 by default). A keyless round takes ~15-30 ms, so one scheduler hiccup moves it by several per
# cent; a pipeline-check round takes ~1.5 s and is steady, and 20 of them would take half a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000}
runs=${2:-}
venv=${KEYLESS_VENV:-$PWD/.venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-bench}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" bench/audit/gen_corpus.py "$work/corpus" "$n"
cargo build --release -q -p keyless-audit --example audit_bench
# Line 1: each file parsed and audited alone, one thread. Line 2: all files at once, as `keyless audit DIR` does
# (per-file work spread over the cores). pipeline-check runs in one Python process (warm, no start-up per file).
# keyless's rounds are split in two halves, one before and one after pipeline-check's, so that a slow spell of the
# machine during one tool's short window does not decide the ratio (a keyless half takes well under a second, a
# pipeline-check round about 1.5 s).
krounds=${runs:-20}
khalf=$(( (krounds + 1) / 2 ))
kbench() { "$CARGO_TARGET_DIR/release/examples/audit_bench" "$work/corpus" "$khalf"; }
{ read -r kfiles ksecs kfind; read -r _ bsecs bfind; } < <(kbench)
read -r pfiles psecs pfind < <("$venv/bin/python" bench/audit/pc_bench.py "$work/corpus" ${runs:-3} 2>/dev/null)
{ read -r _ ksecs2 _; read -r _ bsecs2 _; } < <(kbench)
python3 - "$kfiles" "$ksecs" "$kfind" "$bsecs" "$bfind" "$pfiles" "$psecs" "$pfind" "$ksecs2" "$bsecs2" <<'PY'
import os, sys
kf, ks, kn, bs, bn, pf, ps, pn, ks2, bs2 = sys.argv[1:]
ks, bs = min(float(ks), float(ks2)), min(float(bs), float(bs2))
kr, br, pr = int(kf) / ks, int(kf) / bs, int(pf) / float(ps)
print(f"keyless, per file, 1 thread : {kf} files in {float(ks):.3f}s = {kr:,.0f} files/s ({kn} findings)")
print(f"keyless, whole directory    : {kf} files in {float(bs):.3f}s = {br:,.0f} files/s ({bn} findings, {os.cpu_count()} cores)")
print(f"pipeline-check (in-process) : {pf} files in {float(ps):.3f}s = {pr:,.1f} files/s ({pn} failed checks)")
print(f"ratio, per file, 1 thread   : {kr / pr:,.1f}x")
print(f"ratio, whole directory      : {br / pr:,.1f}x")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (figures are wall-clock; other work on the machine lowers both tools alike)"
