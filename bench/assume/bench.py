#!/usr/bin/env python3
"""Wall time of getting step credentials, three ways, against the same running `keyless emulate`:

  keyless   keyless assume --role-arn R -- true
  aws-cli   aws sts assume-role-with-web-identity --role-arn R --role-session-name s --web-identity-token T
  boto3     python -c "import boto3; boto3.client('sts', ...).assume_role_with_web_identity(...)"

They run alternately (one of each per round) so machine noise hits all three alike. Prints the medians and the
ratios. Usage (from the repo root, after `cargo build --release`):

  .venv/bin/python bench/assume/bench.py [--rounds 30] [--keyless target/release/keyless]

Environment: KEYLESS_VENV (default .venv) locates aws and python.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ACCOUNT = "123456789012"
WORKSPACE = "acme"
WORKSPACE_UUID = "{8f3a7e52-1b4c-4d2e-9f60-0a1b2c3d4e5f}"
REPO_UUID = "{6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f}"
ISSUER = f"https://api.bitbucket.org/2.0/workspaces/{WORKSPACE}/pipelines-config/identity/oidc"
AUDIENCE = "ari:cloud:bitbucket::workspace/" + WORKSPACE_UUID.strip("{}")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/bench"


def start_emulator(keyless, workdir):
    ready = os.path.join(workdir, "ready.json")
    proc = subprocess.Popen(
        [keyless, "emulate", "--listen", "127.0.0.1:0", "--ready-file", ready],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(ready):
            try:
                with open(ready) as f:
                    return proc, json.load(f)
            except json.JSONDecodeError:
                pass  # still being written
        if proc.poll() is not None:
            sys.exit("keyless emulate exited early")
        time.sleep(0.05)
    proc.kill()
    sys.exit("keyless emulate did not become ready in 30 s")


def seed(info):
    import boto3

    creds = info["accounts"][ACCOUNT]
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=info["endpoint"],
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
    )
    host = ISSUER.removeprefix("https://")
    iam.create_open_id_connect_provider(Url=ISSUER, ClientIDList=[AUDIENCE])
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{host}:aud": AUDIENCE}, "StringLike": {f"{host}:sub": f"{REPO_UUID}:*"}},
            }
        ],
    }
    iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))
    body = json.dumps({"workspace": WORKSPACE, "workspace_uuid": WORKSPACE_UUID, "repository_uuid": REPO_UUID}).encode()
    request = urllib.request.Request(info["endpoint"] + "/_keyless/mint", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["token"]


def timed(argv, env):
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{argv[0]} failed: {result.stderr.decode(errors='replace')[:500]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--keyless",
        default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "keyless"),
    )
    args = parser.parse_args()
    venv = os.environ.get("KEYLESS_VENV", os.path.join(ROOT, ".venv"))
    aws = os.path.join(venv, "bin", "aws")
    python = os.path.join(venv, "bin", "python")
    for tool in (args.keyless, aws, python):
        if not os.path.exists(tool):
            sys.exit(f"missing {tool}")

    with tempfile.TemporaryDirectory() as workdir:
        proc, info = start_emulator(args.keyless, workdir)
        try:
            token = seed(info)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": workdir,
                "AWS_CONFIG_FILE": os.path.join(workdir, "none"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(workdir, "none"),
                "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_STS": info["endpoint"],
                "BITBUCKET_STEP_OIDC_TOKEN": token,
                "BITBUCKET_BUILD_NUMBER": "1",
                "BITBUCKET_REPO_SLUG": "bench",
            }
            one_liner = (
                "import boto3,os;boto3.client('sts',region_name='us-east-1',endpoint_url=os.environ['AWS_ENDPOINT_URL_STS'])"
                f".assume_role_with_web_identity(RoleArn='{ROLE_ARN}',RoleSessionName='bench',"
                "WebIdentityToken=os.environ['BITBUCKET_STEP_OIDC_TOKEN'])"
            )
            commands = {
                "keyless": [args.keyless, "assume", "--role-arn", ROLE_ARN, "--", "true"],
                "aws-cli": [aws, "sts", "assume-role-with-web-identity", "--role-arn", ROLE_ARN, "--role-session-name", "bench", "--web-identity-token", token],
                "boto3": [python, "-c", one_liner],
            }
            for argv in commands.values():  # warm-up: page cache, .pyc files
                timed(argv, env)
            samples = {name: [] for name in commands}
            for _ in range(args.rounds):
                for name, argv in commands.items():
                    samples[name].append(timed(argv, env))
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"rounds: {args.rounds} (alternating), endpoint: keyless emulate on 127.0.0.1")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores: {os.cpu_count()}")
    for name, median in medians.items():
        print(f"  {name:8} median {median * 1000:8.1f} ms   min {min(samples[name]) * 1000:8.1f} ms   max {max(samples[name]) * 1000:8.1f} ms")
    print(f"ratio aws-cli / keyless: {medians['aws-cli'] / medians['keyless']:.1f}x (target >= 30x)")
    print(f"ratio boto3 / keyless:   {medians['boto3'] / medians['keyless']:.1f}x")


if __name__ == "__main__":
    main()
