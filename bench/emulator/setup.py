"""bench/emulator setup: an OIDC provider and a role whose trust policy has 50 `sub` patterns and a SourceIp
condition, through the emulator's IAM API (boto3); a minted token; the AssumeRoleWithWebIdentity form body."""
import json, sys, urllib.parse, urllib.request

import boto3

endpoint, key, secret, body_file = sys.argv[1:5]
slug = "bench"
issuer = f"https://api.bitbucket.org/2.0/workspaces/{slug}/pipelines-config/identity/oidc"
host = issuer[len("https://"):]
ws_uuid = "{44444444-4444-4444-8444-444444444444}"
audience = "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444"
repo = "{00000049-1111-4111-8111-111111111111}"
# 50 patterns; only the last matches the token's repository, so every request walks all of them.
patterns = [f"{{{i:08d}-*" for i in range(50)]
trust = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{host}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {f"{host}:aud": audience},
            "StringLike": {f"{host}:sub": patterns},
            "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]},
        },
    }],
}
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id=key, aws_secret_access_key=secret)
iam.create_open_id_connect_provider(Url=issuer, ClientIDList=[audience])
iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600)
request = urllib.request.Request(
    f"{endpoint}/_keyless/mint",
    data=json.dumps({"workspace": slug, "workspace_uuid": ws_uuid, "repository_uuid": repo,
                     "lifetime_seconds": 86400}).encode(),
    headers={"content-type": "application/json"}, method="POST")
token = json.load(urllib.request.urlopen(request))["token"]
body = urllib.parse.urlencode({
    "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
    "RoleArn": "arn:aws:iam::123456789012:role/bench", "RoleSessionName": "bench",
    "WebIdentityToken": token, "DurationSeconds": "3600"})
with open(body_file, "w") as f:
    f.write(body)
# One call through the real request path must succeed before anything is measured.
check = urllib.request.urlopen(urllib.request.Request(endpoint + "/", data=body.encode(), method="POST",
    headers={"content-type": "application/x-www-form-urlencoded"}))
assert b"<AssumedRoleUser>" in check.read(), "the benchmark request does not succeed"
