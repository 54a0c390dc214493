//! `long-lived-aws-keys`: static AWS access keys in scripts, pipe variables, `image.aws` or `aws configure set`.

use super::prelude::*;

pub struct LongLivedAwsKeys;

static META: RuleMeta = RuleMeta {
    id: "long-lived-aws-keys",
    summary: "long-lived AWS access keys are used where OIDC would do",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Access keys stored as repository variables never expire, work from anywhere, and leak through logs, \
          forks and backups. Bitbucket Pipelines can mint a short-lived OIDC token per step that AWS exchanges \
          for one-hour credentials, scoped to the repository and deployment environment.",
    fix: "Enable `oidc: true` on the step, create an IAM role that trusts the workspace's OIDC provider, and pass \
          `AWS_OIDC_ROLE_ARN` to pipes (or use `aws sts assume-role-with-web-identity` / `keyless assume`) instead \
          of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Then delete the keys.",
    autofix: false,
};

const KEY_VARS: [&str; 2] = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

/// An access key id literal (`AKIA…` long-term, `ASIA…` temporary).
fn literal_key(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    // Both prefixes start with `A`: only those positions can begin a key.
    memchr::memchr_iter(b'A', bytes).find_map(|i| {
        let cand = text.get(i..i + 20)?;
        let ok = (cand.starts_with("AKIA") || cand.starts_with("ASIA"))
            && cand[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes.get(i + 20).is_none_or(|b| !b.is_ascii_alphanumeric());
        ok.then_some(cand)
    })
}

/// `text` has `needle` (ASCII) in any case.
fn bytes_contain_ignore_case(text: &str, needle: &str) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// `text` has `var=` (an assignment or a `--var=` style argument).
fn assigns(text: &str, var: &str) -> bool {
    text.match_indices(var)
        .any(|(i, _)| text[i + var.len()..].starts_with('='))
}

impl Rule for LongLivedAwsKeys {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        // `image.aws.access-key` on the global image.
        if let Some(aws) = p.doc.root().get("image").and_then(|i| i.get("aws"))
            && aws.get("access-key").is_some()
        {
            out.push(
                self.finding()
                    .message("the build image is pulled with long-lived AWS access keys")
                    .at_key(Route::root().key("image").key("aws").key("access-key"))
                    .label("static access key")
                    .help("use `aws: {oidc-role: arn:aws:iam::<account>:role/<role>}` to pull from ECR with OIDC"),
            );
        }
        for e in p
            .doc
            .root()
            .get("definitions")
            .and_then(|d| d.get("services"))
            .and_then(Node::as_map)
            .unwrap_or_default()
        {
            let (name, svc) = (e.key.as_str(), &e.value);
            if svc
                .get("image")
                .and_then(|i| i.get("aws"))
                .and_then(|a| a.get("access-key"))
                .is_some()
            {
                out.push(
                    self.finding()
                        .message(format!(
                            "service '{name}' pulls its image with long-lived AWS access keys"
                        ))
                        .at_key(
                            Route::root()
                                .key("definitions")
                                .key("services")
                                .key(name)
                                .key("image")
                                .key("aws")
                                .key("access-key"),
                        )
                        .label("static access key")
                        .help("use `aws: {oidc-role: ...}` instead"),
                );
            }
        }
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        if step
            .node
            .get("image")
            .and_then(|i| i.get("aws"))
            .and_then(|a| a.get("access-key"))
            .is_some()
        {
            out.push(
                self.finding()
                    .message(format!("{} pulls its image with long-lived AWS access keys", step.describe()))
                    .at_key(step.key("image").key("aws").key("access-key"))
                    .label("static access key")
                    .help("use `aws: {oidc-role: arn:aws:iam::<account>:role/<role>}` to pull from ECR with OIDC"),
            );
        }
        let temporary = &step.flow().temporary_keys;
        for (line, (route, text)) in step.commands().enumerate() {
            if let Some(key) = literal_key(text) {
                out.push(
                    self.finding()
                        .message("an AWS access key id is written into the pipeline file")
                        .at_value(route.clone(), text, text.find(key).unwrap_or(0), key.len())
                        .label("literal access key id")
                        .help("revoke this key now, then switch the step to OIDC"),
                );
                continue;
            }
            // What follows looks for AWS names (in any case); most lines have none. Keys the step set from an STS
            // call (`assume-role-with-web-identity` with its OIDC token) are temporary: not this rule's business.
            if !bytes_contain_ignore_case(text, "aws")
                || temporary.get(line).copied().unwrap_or(false)
            {
                continue;
            }
            let lower = text.to_ascii_lowercase();
            // ASCII lowercasing keeps byte offsets.
            if let Some(at) = [
                "aws configure set aws_secret_access_key",
                "aws configure set aws_access_key_id",
            ]
            .iter()
            .filter_map(|p| lower.find(p))
            .min()
            {
                out.push(
                    self.finding()
                        .message("the AWS CLI is configured with long-lived access keys")
                        .at_value(route.clone(), text, at, "aws configure set".len())
                        .label("`aws configure set` with a static key")
                        .help("enable `oidc: true` and configure `role_arn` + `web_identity_token_file` instead"),
                );
                continue;
            }
            if let Some(var) = KEY_VARS
                .iter()
                .find(|v| shell::references(text, v) || assigns(text, v))
            {
                out.push(
                    self.finding()
                        .message(format!("the script uses {var}, a long-lived AWS access key"))
                        .at_value(route.clone(), text, var_offset(text, var), var.len())
                        .label("static credential")
                        .help("enable `oidc: true` and assume a role with the step's OIDC token instead"),
                );
            }
        }
        for item in step.pipes() {
            for (name, value, route) in analysis::pipe_variables(item) {
                let literal = value.as_str().and_then(literal_key);
                if KEY_VARS.contains(&name) || literal.is_some() {
                    let ScriptItem::Pipe { name: pipe, .. } = item else {
                        continue;
                    };
                    out.push(
                        self.finding()
                            .message(format!("pipe {pipe} gets {name}, a long-lived AWS access key"))
                            .at_key(route)
                            .label("static credential")
                            .help("set `oidc: true` on the step and pass AWS_OIDC_ROLE_ARN to the pipe instead"),
                    );
                }
            }
        }
    }
}

/// Where `var`'s name is first written in `text`, as a reference (`$VAR`, `${VAR}`) or an assignment (`VAR=`).
fn var_offset(text: &str, var: &str) -> usize {
    let reference = shell::var_refs(text)
        .into_iter()
        .find(|r| r.name == var)
        .map(|r| r.offset + if r.raw.starts_with("${") { 2 } else { 1 });
    let assignment = text.find(&format!("{var}="));
    match (reference, assignment) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).or_else(|| text.find(var)).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_keys_are_found_after_other_capitals() {
        let key = "AKIAIOSFODNN7EXAMPLE";
        assert_eq!(literal_key(&format!("export A=AAA {key}")), Some(key));
        assert_eq!(literal_key(&format!("ASIA {key}x")), None);
        assert_eq!(literal_key("ASIAIOSFODNN7EXAMPL"), None);
        assert_eq!(
            literal_key("ASIAIOSFODNN7EXAMPLE"),
            Some("ASIAIOSFODNN7EXAMPLE")
        );
        assert_eq!(literal_key("xAKIAIOSFODNN7EXAMPLE"), None);
    }

    #[test]
    fn assignments_and_case_blind_search() {
        assert!(assigns("X=1 AWS_ACCESS_KEY_ID=abc", "AWS_ACCESS_KEY_ID"));
        assert!(!assigns(
            "echo AWS_ACCESS_KEY_ID AWS_ACCESS_KEY_ID_X=",
            "AWS_ACCESS_KEY_ID"
        ));
        assert!(bytes_contain_ignore_case("Aws configure", "aws"));
        assert!(!bytes_contain_ignore_case("a w s", "aws"));
        assert!(!bytes_contain_ignore_case("aw", "aws"));
    }
}
