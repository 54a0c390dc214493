"""Times pipeline-check 1.19.0 over a directory of bitbucket-pipelines files, in-process (no CLI start-up per
file), through the same entry point its LSP server uses. Usage: pc_bench.py DIR [RUNS]. Warms up on one file, then
prints the fastest of RUNS rounds (default 3) as: files seconds findings."""
import os
import sys
import time

from pipeline_check.lsp.scan import scan_document

root = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
files = sorted(os.path.join(root, f) for f in os.listdir(root))
scan_document("bitbucket", files[0])  # warm-up: lazy imports and rule loading
best = None
for _ in range(max(runs, 1)):
    start = time.perf_counter()
    findings = 0
    for path in files:
        findings += sum(1 for f in scan_document("bitbucket", path) if not f.passed)
    secs = time.perf_counter() - start
    if best is None or secs < best[0]:
        best = (secs, findings)
print(len(files), f"{best[0]:.6f}", best[1])
