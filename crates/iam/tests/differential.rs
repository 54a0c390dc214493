//! Differential test: random trust policies and requests, evaluated by keyless-iam and by
//! `@cloud-copilot/iam-simulate` (npm, pinned in package-lock.json, AGPL-3.0: called as a separate process,
//! never copied). Every operator, set prefix, `IfExists`, missing keys, multivalued keys and policy
//! variables are covered; every compared case must have iam-simulate's `ignoredContextKeys` empty, else the
//! comparison would prove nothing.
//!
//! Keys: iam-simulate validates context keys against `sts:AssumeRoleWithWebIdentity` and drops the ones it does
//! not know, Bitbucket's path-bearing provider keys among them, so the generator uses keys it accepts for the
//! action (`accounts.google.com:*`, `sts:*`, global `aws:*` keys). It types keys from AWS's service reference
//! and reduces single-typed keys to their first value, so multivalued requests use only keys typed as arrays
//! there (`aws:TagKeys`, `sts:TransitiveTagKeys`). The generator avoids the divergences proven against AWS's
//! documentation in docs/iam-divergences.md; unit tests pin keyless's side of each.
//!
//! Environment: KEYLESS_DIFF_CASES (default 10000), KEYLESS_DIFF_SEED (default 20261122),
//! KEYLESS_NODE_MODULES (default <repo>/node_modules), KEYLESS_REQUIRE_TOOLS=1 turns a missing tool into a
//! failure instead of a skip.
#![allow(clippy::unwrap_used, clippy::print_stderr, clippy::print_stdout)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use keyless_iam::{Context, ContextValue, Decision, Principal, Request};
use serde_json::{Value, json};

const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/accounts.google.com";
const OTHER_PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/token.example.com";
const ACTION: &str = "sts:AssumeRoleWithWebIdentity";

/// SplitMix64: tiny, seedable and stable across Rust and crate versions, so a seed always means the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    Date,
    Epoch,
    Bool,
    Binary,
    Ip,
    Arn,
}

/// Keys iam-simulate accepts for sts:AssumeRoleWithWebIdentity, with the kind of value each holds.
const SINGLE_KEYS: &[(&str, Kind)] = &[
    ("accounts.google.com:sub", Kind::Str),
    ("accounts.google.com:aud", Kind::Str),
    ("accounts.google.com:oaud", Kind::Str),
    ("sts:RoleSessionName", Kind::Str),
    ("aws:RequestTag/team", Kind::Str),
    ("sts:SourceIdentity", Kind::Binary),
    ("aws:MultiFactorAuthAge", Kind::Num),
    ("aws:CurrentTime", Kind::Date),
    ("aws:EpochTime", Kind::Epoch),
    ("aws:SecureTransport", Kind::Bool),
    ("aws:SourceIp", Kind::Ip),
    ("aws:PrincipalArn", Kind::Arn),
];
/// Keys typed as arrays (ArrayOfString) in AWS's service reference: the only honest multivalued keys.
const MULTI_KEYS: &[&str] = &["aws:TagKeys", "sts:TransitiveTagKeys"];

const STRINGS: &[&str] = &[
    "a",
    "b",
    "A",
    "ab",
    "abc",
    "aXc",
    "repo:main",
    "repo:dev",
    "Repo:Main",
    "",
    "é",
    "É",
    "x*y",
    "q?",
];
const PATTERNS: &[&str] = &[
    "a*",
    "*b*",
    "a?c",
    "*",
    "repo:*",
    "repo:?ain",
    "?",
    "",
    "x*y",
    "*:dev",
    "A*",
    "é*",
];
const NUMBERS: &[&str] = &[
    "-2", "-1.5", "0", "1", "2", "2.0", "10", "10.5", "100", "007",
];
const DATES: &[&str] = &[
    "2026-11-22T04:00:00Z",
    "2026-11-22T05:00:00+01:00",
    "2026-11-22",
    "2026-11",
    "2026-11-22T04:00Z",
    "2026-11-22T03:59:59.500Z",
    "2025-01-01T00:00:00Z",
    "2027-06-30T12:00:00-07:00",
];
const REQUEST_DATES: &[&str] = &[
    "2026-11-22T04:00:00Z",
    "2026-11-22T00:00:00Z",
    "2026-11-01T00:00:00Z",
    "2025-01-01T00:00:00Z",
    "2028-01-01T00:00:00Z",
];
const EPOCHS: &[&str] = &[
    "1795320000",
    "1795316400",
    "1795323600",
    "1700000000",
    "1900000000",
];
const BOOLS: &[&str] = &["true", "false", "True", "FALSE"];
const BINARIES: &[&str] = &["QQ==", "Qg==", "QUI=", "AAEC"];
// No `0.0.0.0/0` and no bare addresses: iam-simulate mismatches both (docs/iam-divergences.md).
const CIDRS: &[&str] = &[
    "203.0.113.0/24",
    "203.0.113.7/32",
    "10.0.0.0/8",
    "10.1.2.3/16",
    "2001:db8::/32",
    "2001:db8::1/128",
    "198.51.100.0/25",
    "::/0",
];
const IPS: &[&str] = &[
    "203.0.113.7",
    "203.0.113.200",
    "10.1.2.3",
    "192.0.2.1",
    "198.51.100.127",
    "198.51.100.128",
    "2001:db8::1",
    "2001:db9::1",
];
const ARN_PATTERNS: &[&str] = &[
    "arn:aws:iam::123456789012:role/deploy",
    "arn:aws:iam::*:role/deploy",
    "arn:aws:iam::123456789012:role/*",
    "arn:aws:iam::123456789012:*",
    "arn:aws:*:*:*:*",
    "arn:aws:iam::1234?6789012:role/deploy",
    // Variables only in the resource component: iam-simulate splits the pattern on `:` before substituting, so
    // `${aws:username}` elsewhere breaks apart (docs/iam-divergences.md).
    "arn:aws:iam::123456789012:role/${aws:username}",
    "arn:aws:sts::123456789012:assumed-role/${aws:username, 'deploy'}/*",
    "arn:aws:sts::123456789012:assumed-role/deploy/*",
    "arn:aws:iam::*",
];
const ARNS: &[&str] = &[
    "arn:aws:iam::123456789012:role/main",
    "arn:aws:iam::123456789012:role/deploy",
    "arn:aws:iam::123456789012:role/other",
    "arn:aws:iam::999999999999:role/deploy",
    "arn:aws:sts::123456789012:assumed-role/deploy/session",
];
const TAG_KEYS: &[&str] = &["Project", "CostCenter", "team", "Team", "env"];
const TAG_PATTERNS: &[&str] = &["Project", "Cost*", "team", "TEAM", "*", "e?v", "Env"];

fn operators_for(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Str => &[
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        ],
        Kind::Num => &[
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        ],
        Kind::Date | Kind::Epoch => &[
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        ],
        Kind::Bool => &["Bool"],
        Kind::Binary => &["BinaryEquals", "StringEquals", "StringLike"],
        Kind::Ip => &["IpAddress", "NotIpAddress"],
        Kind::Arn => &[
            "ArnEquals",
            "ArnLike",
            "ArnNotEquals",
            "ArnNotLike",
            "StringLike",
        ],
    }
}

fn policy_value(rng: &mut Rng, kind: Kind, operator: &str) -> String {
    let like = operator.contains("Like");
    match kind {
        Kind::Str => {
            let variable = rng.chance(12);
            if variable {
                // Special escapes only under Like operators; see docs/iam-divergences.md.
                let options: &[&str] = if like {
                    &[
                        "${aws:username}",
                        "repo:${aws:username}",
                        "${aws:username, 'main'}*",
                        "a${*}",
                        "${?}",
                        "x${*}y",
                        "${missing, 'b'}",
                    ]
                } else {
                    &[
                        "${aws:username}",
                        "repo:${aws:username}",
                        "${aws:username, 'main'}",
                        "${missing, 'b'}",
                        "${missing}",
                    ]
                };
                return rng.pick(options).to_string();
            }
            if like {
                rng.pick(PATTERNS)
            } else {
                rng.pick(STRINGS)
            }
            .to_string()
        }
        Kind::Num => rng.pick(NUMBERS).to_string(),
        Kind::Date => rng.pick(DATES).to_string(),
        Kind::Epoch => rng.pick(EPOCHS).to_string(),
        Kind::Bool => rng.pick(BOOLS).to_string(),
        Kind::Binary => rng.pick(BINARIES).to_string(),
        Kind::Ip => rng.pick(CIDRS).to_string(),
        Kind::Arn => loop {
            let pattern = rng.pick(ARN_PATTERNS);
            // iam-simulate compares the fixed components before it notices an unresolvable variable, so a
            // negated ARN operator can hold there; keyless fails it (docs/iam-divergences.md). Only patterns
            // whose variable always resolves (it has a default) go under negated ARN operators.
            if !operator.starts_with("ArnNot") || !pattern.contains("${") || pattern.contains(", '")
            {
                break pattern.to_string();
            }
        },
    }
}

fn request_value(rng: &mut Rng, kind: Kind) -> String {
    match kind {
        Kind::Str => rng.pick(STRINGS).to_string(),
        Kind::Num => rng.pick(NUMBERS).to_string(),
        Kind::Date => rng.pick(REQUEST_DATES).to_string(),
        Kind::Epoch => rng.pick(EPOCHS).to_string(),
        Kind::Bool => rng.pick(&["true", "false"]).to_string(),
        Kind::Binary => rng.pick(BINARIES).to_string(),
        Kind::Ip => rng.pick(IPS).to_string(),
        Kind::Arn => rng.pick(ARNS).to_string(),
    }
}

struct Case {
    policy: Value,
    principal: String,
    context: Context,
    /// The role the policy belongs to (default: a role in account 123456789012).
    role: Option<String>,
}

fn generate(rng: &mut Rng) -> Case {
    let mut statements = Vec::new();
    let mut null_keys: Vec<String> = Vec::new();
    let statement_count = 1 + rng.below(3);
    for _ in 0..statement_count {
        let effect = if rng.chance(75) { "Allow" } else { "Deny" };
        let principal = match rng.below(20) {
            0 => json!("*"),
            1 => json!({"Federated": OTHER_PROVIDER}),
            2 => json!({"Federated": [OTHER_PROVIDER, PROVIDER]}),
            3 => json!({"AWS": "*"}),
            _ => json!({"Federated": PROVIDER}),
        };
        let action = match rng.below(20) {
            0 => json!("sts:AssumeRole*"),
            1 => json!("sts:*"),
            2 => json!("STS:assumerolewithwebidentity"),
            3 => json!("sts:AssumeRole"),
            4 => json!(["sts:TagSession", ACTION]),
            5 => json!("sts:AssumeRoleWith?ebIdentity"),
            _ => json!(ACTION),
        };
        let action_element = if rng.chance(4) { "NotAction" } else { "Action" };
        let mut condition = serde_json::Map::new();
        for _ in 0..rng.below(4) {
            let (operator, keys) = if rng.chance(30) {
                // A multivalued key, usually with a set operator.
                let base = *rng.pick(&[
                    "StringEquals",
                    "StringLike",
                    "StringNotEquals",
                    "StringNotLike",
                    "StringEqualsIgnoreCase",
                    "StringNotEqualsIgnoreCase",
                ]);
                let prefix = match rng.below(10) {
                    0 => "",
                    1..=4 => "ForAnyValue:",
                    _ => "ForAllValues:",
                };
                let suffix = if rng.chance(15) { "IfExists" } else { "" };
                let key = *rng.pick(MULTI_KEYS);
                let count = 1 + rng.below(3);
                let values: Vec<String> = (0..count)
                    .map(|_| {
                        if base.contains("Like") {
                            rng.pick(TAG_PATTERNS)
                        } else {
                            rng.pick(TAG_KEYS)
                        }
                        .to_string()
                    })
                    .collect();
                (
                    format!("{prefix}{base}{suffix}"),
                    vec![(key.to_string(), values)],
                )
            } else if rng.chance(8) {
                let (key, _) = *rng.pick(SINGLE_KEYS);
                let key = if rng.chance(30) {
                    (*rng.pick(MULTI_KEYS)).to_string()
                } else {
                    key.to_string()
                };
                null_keys.push(key.to_lowercase());
                (
                    "Null".to_string(),
                    vec![(key, vec![rng.pick(&["true", "false"]).to_string()])],
                )
            } else {
                let (key, kind) = *rng.pick(SINGLE_KEYS);
                let base = *rng.pick(operators_for(kind));
                let prefix = if rng.chance(8) {
                    *rng.pick(&["ForAnyValue:", "ForAllValues:"])
                } else {
                    ""
                };
                let suffix = if rng.chance(20) { "IfExists" } else { "" };
                let operator = format!("{prefix}{base}{suffix}");
                // Bool takes one value (several are an Access Analyzer error).
                let count = if base == "Bool" { 1 } else { 1 + rng.below(3) };
                let values: Vec<String> =
                    (0..count).map(|_| policy_value(rng, kind, base)).collect();
                // Occasionally name the key in another letter case: key names are case-insensitive.
                let key = if rng.chance(5) {
                    key.to_uppercase()
                } else {
                    key.to_string()
                };
                (operator, vec![(key, values)])
            };
            let entry = condition.entry(operator).or_insert_with(|| json!({}));
            for (key, values) in keys {
                if entry.get(&key).is_some() {
                    continue;
                }
                let value = if values.len() == 1 && rng.chance(50) {
                    json!(values[0])
                } else {
                    json!(values)
                };
                entry.as_object_mut().unwrap().insert(key, value);
            }
        }
        let mut statement = serde_json::Map::new();
        statement.insert("Effect".into(), json!(effect));
        statement.insert("Principal".into(), principal);
        statement.insert(action_element.into(), action);
        if !condition.is_empty() {
            statement.insert("Condition".into(), Value::Object(condition));
        }
        statements.push(Value::Object(statement));
    }
    let statements = Value::Array(statements);
    // Version 2008-10-17 leaves `${...}` literal; iam-simulate substitutes anyway (docs/iam-divergences.md), so
    // the old version is generated only for policies without variables.
    let has_variables = statements.to_string().contains("${");
    let version = if has_variables || rng.chance(90) {
        "2012-10-17"
    } else {
        "2008-10-17"
    };
    let policy = json!({"Version": version, "Statement": statements});

    let mut context = Context::new();
    for (key, kind) in SINGLE_KEYS {
        if rng.chance(70) {
            context.insert(*key, request_value(rng, *kind));
        }
    }
    for key in MULTI_KEYS {
        if rng.chance(75) {
            let mut count = rng.below(4);
            // An empty list under `Null` is a documented divergence (docs/iam-divergences.md).
            if count == 0 && null_keys.contains(&key.to_lowercase()) {
                count = 1;
            }
            let values: Vec<String> = (0..count).map(|_| rng.pick(TAG_KEYS).to_string()).collect();
            context.insert(*key, ContextValue::Multi(values));
        }
    }
    if rng.chance(50) {
        context.insert(
            "aws:username",
            *rng.pick(&["main", "dev", "123456789012", "a", "b*"]),
        );
    }
    let principal = if rng.chance(90) {
        PROVIDER
    } else {
        OTHER_PROVIDER
    };
    Case {
        policy,
        principal: principal.to_string(),
        context,
        role: None,
    }
}

fn node_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("KEYLESS_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../node_modules"));
    // Canonical, so node (which resolves `..` lexically) and the file system agree on the directory.
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.join("@cloud-copilot/iam-simulate/package.json")
        .is_file()
        .then_some(dir)
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn require_tools() -> bool {
    std::env::var("KEYLESS_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

fn from_simulator(result: &str) -> Decision {
    match result {
        "Allowed" => Decision::Allow,
        "ExplicitlyDenied" => Decision::ExplicitDeny,
        "ImplicitlyDenied" => Decision::ImplicitDeny,
        other => panic!("iam-simulate returned an unknown result `{other}`"),
    }
}

/// Runs the cases through iam-simulate (one node process): one JSON result per case.
fn simulate(node_modules: &std::path::Path, cases: &[Case]) -> Vec<Value> {
    let mut input = String::new();
    for case in cases {
        let context: serde_json::Map<String, Value> = case
            .context
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::to_value(v).unwrap()))
            .collect();
        let mut line = json!({"policy": case.policy, "principal": case.principal, "action": ACTION, "context": context});
        if let Some(role) = &case.role {
            line["role"] = json!(role);
        }
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/differential/oracle.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(node_modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("run node");
    assert!(
        output.status.success(),
        "the iam-simulate oracle failed: {}",
        output.status
    );
    writer.join().unwrap().expect("write cases to node");
    let results: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        results.len(),
        cases.len(),
        "the oracle answered {} of {} cases",
        results.len(),
        cases.len()
    );
    results
}

/// The `node_modules` holding iam-simulate, or `None` (the test is skipped, saying why) when `node` or the package
/// is missing and `KEYLESS_REQUIRE_TOOLS` does not require them.
fn oracle(test: &str) -> Option<PathBuf> {
    if let (Some(node_modules), true) = (node_modules(), node_available()) {
        return Some(node_modules);
    }
    let message = "differential test needs `node` on PATH and @cloud-copilot/iam-simulate in node_modules \
                   (run scripts/setup-tools, or set KEYLESS_NODE_MODULES)";
    assert!(!require_tools(), "{message}");
    println!("SKIP {test}: {message}");
    None
}

/// iam-simulate's decision on one case, and the disagreement when keyless decides otherwise (`show` describes the
/// case). Fails when the oracle refused the case or ignored a context key (the comparison would prove nothing), or
/// when keyless's fast path (`decide`) and its explained evaluation disagree.
fn judge(case: &Case, result: &Value, show: &dyn Fn() -> String) -> (Decision, Option<String>) {
    if let Some(error) = result.get("error") {
        panic!("iam-simulate rejected {}\nerror: {error}", show());
    }
    let ignored = result["ignored"]
        .as_array()
        .unwrap_or_else(|| panic!("no ignoredContextKeys for {}", show()));
    assert!(
        ignored.is_empty(),
        "iam-simulate ignored context keys {ignored:?}: the comparison would prove nothing\n{}",
        show()
    );
    let expected = from_simulator(result["result"].as_str().unwrap());
    let policy = keyless_iam::parse(&case.policy.to_string()).unwrap();
    let request = Request {
        principal: Principal::federated(case.principal.clone()),
        action: ACTION.into(),
        context: case.context.clone(),
    };
    let evaluation = policy.evaluate(&request);
    assert_eq!(
        policy.decide(&request),
        evaluation.decision,
        "decide and evaluate disagree on {}",
        show()
    );
    let disagreement = (evaluation.decision != expected).then(|| {
        format!(
            "{}\nkeyless: {:?} ({})\niam-simulate: {expected:?}",
            show(),
            evaluation.decision,
            evaluation.explain()
        )
    });
    (expected, disagreement)
}

fn assert_agreement(disagreements: &[String]) {
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s); first ones:\n\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(5)].join("\n\n")
    );
}

#[test]
fn keyless_agrees_with_iam_simulate() {
    let Some(node_modules) = oracle("keyless_agrees_with_iam_simulate") else {
        return;
    };
    let count: usize = std::env::var("KEYLESS_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("KEYLESS_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_122);
    let mut rng = Rng(seed);
    let cases: Vec<Case> = (0..count).map(|_| generate(&mut rng)).collect();

    let results = simulate(&node_modules, &cases);
    let mut disagreements = Vec::new();
    let mut tally = [0usize; 3];
    for (i, (case, result)) in cases.iter().zip(&results).enumerate() {
        let show = || {
            format!(
                "case {i} (seed {seed}):\npolicy: {}\nprincipal: {}\ncontext: {}",
                case.policy,
                case.principal,
                serde_json::to_string(&case.context).unwrap()
            )
        };
        let (expected, disagreement) = judge(case, result, &show);
        tally[match expected {
            Decision::Allow => 0,
            Decision::ExplicitDeny => 1,
            Decision::ImplicitDeny => 2,
        }] += 1;
        disagreements.extend(disagreement);
    }
    println!(
        "{count} cases (seed {seed}): {} allow, {} explicit deny, {} implicit deny; {} disagreements",
        tally[0],
        tally[1],
        tally[2],
        disagreements.len()
    );
    // Coverage guard: a generator that only produced denies would prove little.
    assert!(
        count < 1000 || (tally[0] > count / 20 && tally[1] > count / 50),
        "too few allows or explicit denies: {tally:?}"
    );
    assert_agreement(&disagreements);
}

// ---------------------------------------------------------------------------------------------------------------
// The corpus: the real trust policies of ../shared/corpus/trust, against tokens a Bitbucket step could carry.
// ---------------------------------------------------------------------------------------------------------------

/// Keys iam-simulate accepts for sts:AssumeRoleWithWebIdentity as single strings (its service reference), which the
/// claims of the policy's own provider are renamed to, in the policy and in the request alike. iam-simulate drops
/// Bitbucket's path-bearing keys (`api.bitbucket.org/2.0/workspaces/…/identity/oidc:sub`) as unknown, so without the
/// renaming nothing would be compared; a key is only a name to both evaluators, so a consistent renaming keeps
/// the question the same. `sub` and `aud` keep their names' meaning.
const STRING_KEYS: &[&str] = &[
    "accounts.google.com:sub",
    "accounts.google.com:aud",
    "gitlab.com:namespace_id",
    "gitlab.com:pipeline_source",
    "gitlab.com:project_id",
    "gitlab.com:ref_protected",
    "gitlab.com:runner_environment",
    "gitlab.com:user_access_level",
    "gitlab.com:user_email",
    "gitlab.com:user_id",
    "gitlab.com:user_login",
    "token.actions.githubusercontent.com:actor",
    "token.actions.githubusercontent.com:environment",
    "token.actions.githubusercontent.com:ref",
    "token.actions.githubusercontent.com:repository",
    "token.actions.githubusercontent.com:workflow",
];

/// The claims of a Bitbucket Pipelines OIDC token (reference/bitbucket.md §2), in the order they take
/// [`STRING_KEYS`].
const CLAIMS: &[&str] = &[
    "sub",
    "aud",
    "branchName",
    "repositoryUuid",
    "deploymentEnvironment",
    "deploymentEnvironmentUuid",
    "stepUuid",
    "workspaceUuid",
    "pipelineUuid",
    "iss",
];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/trust")
}

/// The trust policies of the corpus: the 35 extracted documents and the `aws iam get-role` outputs of `asis/`.
fn corpus_policies() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for dir in [corpus_dir(), corpus_dir().join("asis")] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        entries.sort();
        for path in entries {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let policy = match doc.pointer("/Role/AssumeRolePolicyDocument") {
                Some(p) => p.clone(),
                None if doc.get("Statement").is_some() => doc,
                // CDK synth and CloudFormation shapes hold intrinsics, not a document IAM evaluates.
                None => continue,
            };
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, policy));
        }
    }
    out
}

/// Every string in a JSON value.
fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings_in(i, out)),
        Value::Object(map) => map.values().for_each(|i| strings_in(i, out)),
        _ => {}
    }
}

/// The OIDC providers a policy names (`Federated` ARNs).
fn federated(policy: &Value) -> Vec<String> {
    let statements = match &policy["Statement"] {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut out = Vec::new();
    for s in statements {
        let mut found = Vec::new();
        if let Some(f) = s.pointer("/Principal/Federated") {
            strings_in(f, &mut found);
        }
        for f in found {
            if f.contains(":oidc-provider/") && !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

/// The policy with the condition keys of `provider` (the path after `oidc-provider/`) renamed by `names` (claim,
/// lower case → accepted key).
fn renamed(policy: &Value, provider: &str, names: &mut Vec<(String, String)>) -> Value {
    let mut policy = policy.clone();
    let statements: Vec<&mut Value> = match &mut policy["Statement"] {
        Value::Array(items) => items.iter_mut().collect(),
        other => vec![other],
    };
    let prefix = format!("{}:", provider.to_lowercase());
    for s in statements {
        let Some(Value::Object(condition)) = s.get_mut("Condition") else {
            continue;
        };
        for (_, keys) in condition.iter_mut() {
            let Value::Object(keys) = keys else { continue };
            let old = std::mem::take(keys);
            for (key, value) in old {
                let lower = key.to_lowercase();
                let key = match lower.strip_prefix(&prefix) {
                    Some(claim) => rename(claim, names),
                    None => key,
                };
                keys.insert(key, value);
            }
        }
    }
    policy
}

fn rename(claim: &str, names: &mut Vec<(String, String)>) -> String {
    if let Some((_, key)) = names.iter().find(|(c, _)| c == claim) {
        return key.clone();
    }
    // A Bitbucket claim takes its own key; any other claim a policy names, the first key no claim takes.
    let key = match CLAIMS.iter().position(|c| c.eq_ignore_ascii_case(claim)) {
        Some(i) => STRING_KEYS[i].to_string(),
        None => STRING_KEYS[CLAIMS.len()..]
            .iter()
            .find(|k| !names.iter().any(|(_, used)| used == *k))
            .expect("more claims than accepted keys")
            .to_string(),
    };
    names.push((claim.to_owned(), key.clone()));
    key
}

/// Tokens for one policy: repositories, environments, branches and audiences taken from the policy (so some
/// match) and from elsewhere (so some do not), in the shapes Bitbucket writes them.
fn corpus_cases(rng: &mut Rng, policy: &Value, count: usize) -> Vec<Case> {
    let mut strings = Vec::new();
    strings_in(policy, &mut strings);
    let mut uuids: Vec<String> = Vec::new();
    let mut audiences: Vec<String> = vec![
        "ari:cloud:bitbucket::workspace/0f6a7d3b-9c11-4e8d-a1f2-5c2b7f1e8a4d".into(),
        "sts.amazonaws.com".into(),
    ];
    let mut ips: Vec<String> = vec!["192.0.2.10".into()];
    for s in &strings {
        let mut rest = s.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let inner = &rest[open + 1..open + close];
            if inner.len() == 36 && inner.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                let braced = format!("{{{inner}}}");
                if !uuids.contains(&braced) {
                    uuids.push(braced);
                }
            }
            rest = &rest[open + close..];
        }
        if s.starts_with("ari:cloud:bitbucket::workspace/") && !s.contains('*') {
            audiences.push(s.clone());
        }
        if let Some((ip, bits)) = s.split_once('/')
            && ip.parse::<std::net::IpAddr>().is_ok()
            && bits.parse::<u8>().is_ok()
        {
            ips.push(ip.to_owned());
        }
    }
    uuids.push("{9e8d7c6b-5a49-4838-a7b6-c5d4e3f2a1b0}".into());
    let step = "{e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9}";
    let providers = federated(policy);
    let mut cases = Vec::new();
    for _ in 0..count {
        let provider = if providers.is_empty() || rng.chance(5) {
            "arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/other/pipelines-config/identity/oidc"
                .to_owned()
        } else {
            rng.pick(&providers).clone()
        };
        let path = provider
            .split_once(":oidc-provider/")
            .map_or("", |(_, p)| p)
            .to_owned();
        let mut names = Vec::new();
        let policy = renamed(policy, &path, &mut names);
        let repository = rng.pick(&uuids).clone();
        let environment = rng.chance(60).then(|| rng.pick(&uuids).clone());
        let sub = match &environment {
            Some(env) => format!("{repository}:{env}:{step}"),
            None => format!("{repository}:{step}"),
        };
        let branch = *rng.pick(&["main", "master", "release/1.2", "feature/login", "develop"]);
        let claims: Vec<(&str, String)> = vec![
            ("sub", sub),
            ("aud", rng.pick(&audiences).clone()),
            ("branchName", branch.to_owned()),
            ("repositoryUuid", repository.clone()),
            (
                "deploymentEnvironment",
                (*rng.pick(&["production", "staging", "test"])).to_owned(),
            ),
            (
                "deploymentEnvironmentUuid",
                environment.clone().unwrap_or_default(),
            ),
            ("stepUuid", step.to_owned()),
            (
                "workspaceUuid",
                "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}".to_owned(),
            ),
            (
                "pipelineUuid",
                "{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}".to_owned(),
            ),
            ("iss", format!("https://{path}")),
        ];
        let mut context = Context::new();
        for (claim, value) in claims {
            // A claim Bitbucket leaves out of the token (no deployment environment) is absent from the request.
            if value.is_empty() {
                continue;
            }
            context.insert(rename(&claim.to_lowercase(), &mut names), value);
        }
        context.insert("aws:SourceIp", rng.pick(&ips).clone());
        // The role is in the provider's account: STS looks the provider up in the role's account.
        let account = provider.split(':').nth(4).unwrap_or("123456789012");
        cases.push(Case {
            policy,
            principal: provider.clone(),
            context,
            role: Some(format!("arn:aws:iam::{account}:role/corpus")),
        });
    }
    cases
}

#[test]
fn keyless_agrees_with_iam_simulate_on_the_corpus() {
    let Some(node_modules) = oracle("keyless_agrees_with_iam_simulate_on_the_corpus") else {
        return;
    };
    if !corpus_dir().is_dir() {
        println!("SKIP: {} not found", corpus_dir().display());
        return;
    }
    let policies = corpus_policies();
    assert!(policies.len() >= 35, "{} corpus policies", policies.len());
    let mut rng = Rng(20_261_207);
    let mut cases = Vec::new();
    let mut owners = Vec::new();
    let mut refused = Vec::new();
    for (name, policy) in &policies {
        // A document IAM's grammar refuses is never evaluated (keyless exits 2 on it): nothing to compare.
        if let Err(e) = keyless_iam::parse(&policy.to_string()) {
            refused.push(format!("{name}: {e}"));
            continue;
        }
        for case in corpus_cases(&mut rng, policy, 80) {
            owners.push(name.clone());
            cases.push(case);
        }
    }
    let results = simulate(&node_modules, &cases);
    let mut tally = [0usize; 3];
    let mut allowed_by: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut disagreements = Vec::new();
    for ((case, result), owner) in cases.iter().zip(&results).zip(&owners) {
        let show = || {
            format!(
                "{owner}:\npolicy: {}\nprincipal: {}\ncontext: {}",
                case.policy,
                case.principal,
                serde_json::to_string(&case.context).unwrap()
            )
        };
        let (expected, disagreement) = judge(case, result, &show);
        tally[match expected {
            Decision::Allow => {
                allowed_by.insert(owner);
                0
            }
            Decision::ExplicitDeny => 1,
            Decision::ImplicitDeny => 2,
        }] += 1;
        disagreements.extend(disagreement);
    }
    println!(
        "{} corpus policies ({} refused by IAM's grammar: {refused:?}), {} tokens: {} allow, {} explicit deny, {} \
         implicit deny; {} policies allow some token; {} disagreements",
        policies.len(),
        refused.len(),
        cases.len(),
        tally[0],
        tally[1],
        tally[2],
        allowed_by.len(),
        disagreements.len()
    );
    // Coverage guard: the tokens are built from the policies' own values, so most policies let some of them in.
    assert!(
        allowed_by.len() >= policies.len() / 2,
        "only {} of {} policies allowed any generated token: the generator proves little",
        allowed_by.len(),
        policies.len()
    );
    assert_agreement(&disagreements);
}
