"""Times pipeline-check 1.19.0 over a directory of bitbucket-pipelines files, in-process (no CLI start-up per
file), through the same entry point its LSP server uses. Prints: files seconds findings."""
import os
import sys
import time

from pipeline_check.lsp.scan import scan_document

root = sys.argv[1]
files = sorted(os.path.join(root, f) for f in os.listdir(root))
start = time.perf_counter()
findings = 0
for path in files:
    findings += sum(1 for f in scan_document("bitbucket", path) if not f.passed)
print(len(files), f"{time.perf_counter() - start:.6f}", findings)
