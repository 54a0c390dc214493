"""Writes N realistic bitbucket-pipelines files (variations of the keyless-pipelines corpus and the audit fixtures)
into a directory, each with a distinct name so both tools see the same 1,000 inputs."""
import glob
import os
import random
import sys

import yaml  # PyYAML: in the project venv (pipeline-check depends on it); run.sh runs this with the venv's python

out, n = sys.argv[1], int(sys.argv[2])
here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.normpath(os.path.join(here, "..", ".."))
seeds = sorted(glob.glob(os.path.join(repo, "crates/pipelines/tests/corpus/*.yml")))
seeds += sorted(p for p in glob.glob(os.path.join(repo, "crates/audit/tests/fixtures/*/*.yml")))
texts = [open(p).read() for p in seeds]
texts = [t for t in texts if "pipelines:" in t]
# Only files both tools can read: the audit's invalid-input fixtures (unclosed flow sequences, tabs, ...) are refused by
# PyYAML, so pipeline-check cannot time them, and keyless would time its error path, not an audit.
def readable(text):
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return True


texts = [t for t in texts if readable(t)]
rng = random.Random(42)
os.makedirs(out, exist_ok=True)
for i in range(n):
    t = texts[i % len(texts)]
    # Vary names so files are not byte-identical.
    t = t.replace("name: ", f"name: v{rng.randint(0, 9999)} ", 1)
    with open(os.path.join(out, f"{i:04d}-bitbucket-pipelines.yml"), "w") as f:
        f.write(t)
print(len(texts), "seed files")
