#!/usr/bin/env bash
# keyless as a Bitbucket Pipe: maps the variables users already pass to Atlassian's AWS pipes
# (AWS_OIDC_ROLE_ARN, AWS_DEFAULT_REGION, S3_BUCKET, LOCAL_PATH, DISTRIBUTION_ID, DELETE_FLAG, EXTRA_ARGS, ...)
# onto one keyless command line, then execs keyless so its exit code is the pipe's.
#
#   COMMAND=deploy-s3 (default)  keyless deploy s3 --bucket --source [--prefix] [--delete] [--invalidate] ...
#   COMMAND=assume               keyless assume ... -- sh -c "$SCRIPT"
#   COMMAND=doctor               keyless doctor ...
#   COMMAND=audit                keyless audit [--fail-on] [--format] [--publish --proxy ...] PATH...
#
# Missing or malformed variables stop the pipe with exit code 2 (keyless's "bad input") and a message naming
# the variable and the fix. Tested without Docker by crates/cli/tests/release/pipe.rs (a fake keyless on PATH).
set -euo pipefail

die() {
  printf 'keyless pipe: error: %s\n' "$1" >&2
  shift
  for line in "$@"; do
    printf '  %s\n' "$line" >&2
  done
  exit 2
}

# true/false as Atlassian's pipes accept them (true, yes, 1; false, no, 0, empty), anything else is an error.
flag() {
  local name=$1 value=${!1:-}
  case "$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')" in
    true | yes | 1) return 0 ;;
    false | no | 0 | '') return 1 ;;
    *) die "$name must be true or false, not \`$value\`" "fix: set $name: 'true' or leave it out" ;;
  esac
}

require() {
  local name=$1 example=$2
  if [ -z "${!name:-}" ]; then
    die "$name is required for COMMAND=$command" "fix: add it under the pipe's variables, e.g. $name: $example"
  fi
}

command=${COMMAND:-deploy-s3}
args=()

# The token only exists when the step says `oidc: true`; Atlassian's own pipes fall back to access keys here,
# keyless never does.
require_oidc() {
  if [ -z "${BITBUCKET_STEP_OIDC_TOKEN:-}" ]; then
    die "BITBUCKET_STEP_OIDC_TOKEN is not set, so there is no OIDC token to exchange for AWS credentials" \
      "fix: add \`oidc: true\` to the step that runs this pipe (Bitbucket passes the token to pipes by itself)"
  fi
}

# Role and region, the way Atlassian's AWS pipes take them. KEYLESS_ENV (a keyless.yml environment) replaces
# both. AWS_REGION wins over AWS_DEFAULT_REGION, as in the AWS SDKs.
credential_args() {
  if [ -n "${KEYLESS_ENV:-}" ]; then
    args+=(--env "$KEYLESS_ENV")
  else
    if [ -z "${AWS_OIDC_ROLE_ARN:-}" ]; then
      die "AWS_OIDC_ROLE_ARN is required for COMMAND=$command" \
        "fix: add AWS_OIDC_ROLE_ARN: arn:aws:iam::ACCOUNT:role/NAME under the pipe's variables (keyless plan prints the role), or KEYLESS_ENV: NAME to take role and region from keyless.yml"
    fi
    case "$AWS_OIDC_ROLE_ARN" in
      arn:aws*:iam::*:role/*) ;;
      *) die "AWS_OIDC_ROLE_ARN is not an IAM role ARN: \`$AWS_OIDC_ROLE_ARN\`" \
        "fix: use the form arn:aws:iam::123456789012:role/NAME" ;;
    esac
    args+=(--role-arn "$AWS_OIDC_ROLE_ARN")
  fi
  local region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
  if [ -n "$region" ]; then
    args+=(--region "$region")
  elif [ -z "${KEYLESS_ENV:-}" ]; then
    die "AWS_DEFAULT_REGION (or AWS_REGION) is required for COMMAND=$command" \
      "fix: add AWS_DEFAULT_REGION: eu-west-1 (your region) under the pipe's variables"
  fi
}

# Bitbucket passes a list-valued pipe variable as NAME_COUNT and NAME_0..NAME_{COUNT-1}; a string is split on
# whitespace (no globbing), as Atlassian's pipes do with EXTRA_ARGS.
extra_args() {
  if [ -n "${EXTRA_ARGS_COUNT:-}" ]; then
    case "$EXTRA_ARGS_COUNT" in
      *[!0-9]*) die "EXTRA_ARGS_COUNT must be a number, not \`$EXTRA_ARGS_COUNT\`" ;;
    esac
    local i name
    for ((i = 0; i < EXTRA_ARGS_COUNT; i++)); do
      name="EXTRA_ARGS_$i"
      [ -n "${!name+set}" ] || die "EXTRA_ARGS_COUNT is $EXTRA_ARGS_COUNT but $name is not set"
      args+=("${!name}")
    done
  elif [ -n "${EXTRA_ARGS:-}" ]; then
    local words
    set -f
    # shellcheck disable=SC2206 # splitting on whitespace is the documented contract of EXTRA_ARGS
    words=($EXTRA_ARGS)
    set +f
    args+=("${words[@]}")
  fi
}

case "$command" in
  deploy-s3)
    require S3_BUCKET my-bucket
    require LOCAL_PATH build
    require_oidc
    # aws-s3-deploy accepts `bucket` or `bucket/prefix` (and people write s3://bucket/prefix).
    target=${S3_BUCKET#s3://}
    target=${target%/}
    bucket=${target%%/*}
    prefix=
    [ "$bucket" = "$target" ] || prefix=${target#*/}
    [ -n "$bucket" ] || die "S3_BUCKET has no bucket name: \`$S3_BUCKET\`" "fix: S3_BUCKET: my-bucket or my-bucket/prefix"
    if [ ! -d "$LOCAL_PATH" ]; then
      die "LOCAL_PATH \`$LOCAL_PATH\` is not a directory (relative to $(pwd))" \
        "fix: point it at the build output, and pass it from the build step with \`artifacts:\`"
    fi
    args=(deploy s3 --bucket "$bucket" --source "$LOCAL_PATH")
    [ -z "$prefix" ] || args+=(--prefix "$prefix")
    credential_args
    if flag DELETE_FLAG; then args+=(--delete); fi
    if [ -n "${DISTRIBUTION_ID:-}" ]; then args+=(--invalidate "$DISTRIBUTION_ID"); fi
    if flag WAIT; then
      [ -n "${DISTRIBUTION_ID:-}" ] || die "WAIT: true waits for a CloudFront invalidation, but DISTRIBUTION_ID is not set" \
        "fix: set DISTRIBUTION_ID, or leave WAIT out"
      args+=(--wait)
    fi
    # aws-s3-deploy's CACHE_CONTROL applies to every object; keyless takes GLOB=VALUE rules.
    if [ -n "${CACHE_CONTROL:-}" ]; then args+=(--cache-control "*=$CACHE_CONTROL"); fi
    if flag DRY_RUN; then args+=(--dry-run); fi
    extra_args
    ;;
  assume)
    require SCRIPT "'aws sts get-caller-identity'"
    require_oidc
    args=(assume)
    credential_args
    extra_args
    args+=(-- sh -c "$SCRIPT")
    ;;
  doctor)
    args=(doctor)
    credential_args
    extra_args
    ;;
  audit)
    args=(audit)
    if [ -n "${FAIL_ON:-}" ]; then args+=(--fail-on "$FAIL_ON"); fi
    if [ -n "${FORMAT:-}" ]; then args+=(--format "$FORMAT"); fi
    if flag PUBLISH; then
      # Inside a pipe container the Pipelines auth proxy is host.docker.internal, not localhost.
      args+=(--publish --proxy "${CODE_INSIGHTS_PROXY:-http://host.docker.internal:29418}")
    fi
    extra_args
    # AUDIT_PATHS: whitespace-separated files or directories (default: keyless's, bitbucket-pipelines.yml).
    if [ -n "${AUDIT_PATHS:-}" ]; then
      set -f
      # shellcheck disable=SC2206
      paths=($AUDIT_PATHS)
      set +f
      args+=("${paths[@]}")
    fi
    ;;
  *)
    die "COMMAND \`$command\` is not one of deploy-s3, assume, doctor, audit" \
      "fix: set COMMAND: deploy-s3 (the default), assume, doctor or audit"
    ;;
esac

if flag DEBUG; then
  printf 'keyless pipe: running keyless' >&2
  printf ' %q' "${args[@]}" >&2
  printf '\n' >&2
fi
exec keyless "${args[@]}"
