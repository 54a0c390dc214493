#!/usr/bin/env bash
# keyless audit vs pipeline-check on the same 1,000 pipeline files, in one run. Prints files/s and the ratio.
# Targets (issue 6): keyless >= 2,000 files/s and >= 100x pipeline-check.
# Usage: bench/audit/run.sh [N] [RUNS]   (needs the project venv with pipeline_check: scripts/setup-tools)
# Env: KEYLESS_BENCH_PC_SAMPLE (default 20) files for the pipeline_check-as-a-process figure (below);
#      KEYLESS_BIN to time a keyless binary that is already built (default: target/release/keyless, built here).
# Both tools are warmed up on one file, then the fastest of RUNS rounds is kept (keyless: 20 by default, half
# before and half after pipeline-check's; pipeline-check: 3 by default). A keyless round takes ~15-30 ms, so one scheduler hiccup moves it by several per
# cent; a pipeline-check round takes ~1.5 s and is steady, and 20 of them would take half a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000}
runs=${2:-}
venv=${KEYLESS_VENV:-$PWD/.venv}
# The checkout's one target directory (a second one would rebuild every dependency).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" bench/audit/gen_corpus.py "$work/corpus" "$n"
cargo build --release -q -p keyless-audit --example audit_bench
keyless=${KEYLESS_BIN:-$CARGO_TARGET_DIR/release/keyless}
if [ -z "${KEYLESS_BIN:-}" ]; then
  cargo build --release -q -p keyless --bin keyless
fi
echo "keyless binary: $keyless ($(stat -c '%y' "$keyless" | cut -d. -f1))"
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

# End to end, as a user runs each tool: processes, start-up and output included.
# keyless: `keyless audit DIR --format json` over the same files laid out as N repositories
# (`DIR/NNNN/bitbucket-pipelines.yml`, what a directory audit discovers), fastest of 5 runs.
# pipeline_check: its `--bitbucket-path` takes one file (or a directory holding one), so a user runs one process per
# repository: `pipeline_check --pipeline bitbucket --bitbucket-path FILE --output json`. A process takes seconds
# (Python start-up and rule loading), so it is timed on a sample of the files and scaled to N; keyless is timed the
# same way per file (`keyless audit FILE`) for the per-process ratio.
sample=${KEYLESS_BENCH_PC_SAMPLE:-20}
mkdir -p "$work/repos"
for f in "$work/corpus"/*; do
  d="$work/repos/$(basename "$f" -bitbucket-pipelines.yml)"
  mkdir -p "$d" && cp "$f" "$d/bitbucket-pipelines.yml"
done
"$venv/bin/python" - "$keyless" "$venv/bin/pipeline_check" "$work/repos" "$n" "$sample" <<'PY'
import os, subprocess, sys, time
keyless, pc, repos, n, sample = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def run(cmd, ok=(0, 1)):
    start = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    secs = time.perf_counter() - start
    if r.returncode not in ok:
        sys.exit(f"{cmd[0]} exited {r.returncode}: {' '.join(cmd)}")
    return secs
dirs = sorted(os.listdir(repos))
step = max(len(dirs) // sample, 1)
picked = [os.path.join(repos, d, "bitbucket-pipelines.yml") for d in dirs[::step][:sample]]
run([keyless, "audit", picked[0], "--format", "json"])  # warm the page cache
whole = min(run([keyless, "audit", repos, "--format", "json"]) for _ in range(5))
k_each = min(sum(run([keyless, "audit", f, "--format", "json"]) for f in picked) for _ in range(3)) / len(picked)
# pipeline_check exits 1 when a gate fails; any other code is an error.
p_each = sum(run([pc, "--pipeline", "bitbucket", "--bitbucket-path", f, "--output", "json"]) for f in picked) / len(picked)
print(f"keyless audit DIR (1 process, {n} repositories)        : {whole:.3f}s = {n / whole:,.0f} files/s")
print(f"keyless audit FILE (1 process per file, {len(picked)} sampled)  : {k_each * 1000:.1f} ms per file")
print(f"pipeline_check FILE (1 process per file, {len(picked)} sampled) : {p_each * 1000:.1f} ms per file, {n} files ~ {p_each * n:.1f}s")
print(f"ratio, end to end, directory ({n} files)        : {p_each * n / whole:,.1f}x")
print(f"ratio, end to end, one process per file         : {p_each / k_each:,.1f}x")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
