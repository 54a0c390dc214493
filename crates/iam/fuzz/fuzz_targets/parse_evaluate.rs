//! Fuzz parse + validate + evaluate: no input may panic, and the fast decision must always agree with the
//! traced evaluation. Input: a policy document, optionally followed by a NUL byte and a request file.
#![no_main]

use keyless_iam::{Context, PolicyKind, Principal, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (policy_text, request_text) = match text.split_once('\0') {
        Some((p, r)) => (p, Some(r)),
        None => (text, None),
    };
    let _ = keyless_iam::size_excluding_whitespace(policy_text);
    let Ok(policy) = keyless_iam::parse(policy_text) else { return };
    let _ = policy.validate(PolicyKind::Trust);
    let _ = policy.validate(PolicyKind::Identity);
    let mut requests = vec![
        Request { principal: Principal::Any, action: "sts:AssumeRoleWithWebIdentity".into(), context: Context::new() },
        Request {
            principal: Principal::federated("arn:aws:iam::123456789012:oidc-provider/example.com"),
            action: "sts:AssumeRoleWithWebIdentity".into(),
            context: Context::new()
                .with("example.com:sub", "repo:x")
                .with("example.com:aud", vec!["a", "b"])
                .with("aws:SourceIp", "203.0.113.9")
                .with("aws:CurrentTime", "2026-01-01T00:00:00Z")
                .with("aws:EpochTime", "1767225600")
                .with("aws:MultiFactorAuthAge", "10")
                .with("aws:SecureTransport", "true")
                .with("aws:TagKeys", Vec::<String>::new()),
        },
    ];
    // Reuse the policy's own condition keys and values as request values: that reaches far deeper into the
    // operators than random strings would.
    let mut echo = Context::new();
    for statement in &policy.statements {
        for c in &statement.conditions {
            echo.insert(c.condition.key.clone(), c.condition.values.clone());
        }
    }
    requests.push(Request { principal: Principal::aws("arn:aws:iam::123456789012:root"), action: "sts:TagSession".into(), context: echo });
    if let Some(Ok(request)) = request_text.map(Request::from_json) {
        requests.push(request);
    }
    for request in &requests {
        let evaluation = policy.evaluate(request);
        assert_eq!(policy.decide(request), evaluation.decision, "decide and evaluate disagree");
        let _ = evaluation.explain();
        let _ = keyless_iam::web_identity::provider_prefix(&request.action);
    }
});
