//! Role session names: CloudTrail shows them next to every API call, so keyless builds them from the build.

/// Longest session name STS accepts.
pub const MAX_LEN: usize = 64;

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Checks a user-given session name against STS's `[\w+=,.@-]{2,64}`.
pub fn validate(name: &str) -> Result<(), String> {
    if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "session name `{name}` contains `{c}`; STS allows only letters, digits and `_+=,.@-`"
        ));
    }
    if !(2..=MAX_LEN).contains(&name.len()) {
        return Err(format!(
            "session name `{name}` has {} characters; STS requires 2 to 64",
            name.len()
        ));
    }
    Ok(())
}

/// Turns any string into a valid session name: disallowed characters become `-`, runs of `-` collapse, the
/// result is cut to 64 characters and padded to 2.
pub fn sanitise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if allowed(c) { c } else { '-' };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let mut out = out.trim_matches('-').to_owned();
    out.truncate(MAX_LEN);
    let mut out = out.trim_end_matches('-').to_owned();
    while out.len() < 2 {
        out.push_str("keyless");
        out.truncate(MAX_LEN);
    }
    out
}

/// The default session name: `<repo-slug>-<build-number>-<step-uuid>` (braces removed), cutting the slug
/// first so the build number and step stay visible; `keyless-<unix-seconds>` outside Pipelines.
pub fn default_name(
    repo_slug: Option<&str>,
    build_number: Option<&str>,
    step_uuid: Option<&str>,
    now_unix: i64,
) -> String {
    let step = step_uuid
        .map(|s| s.trim_matches(|c| c == '{' || c == '}'))
        .filter(|s| !s.is_empty());
    if repo_slug.is_none() && build_number.is_none() && step.is_none() {
        return format!("keyless-{now_unix}");
    }
    let tail: Vec<&str> = [build_number, step].into_iter().flatten().collect();
    let tail = sanitise(&tail.join("-"));
    let slug = sanitise(repo_slug.unwrap_or("bitbucket"));
    let room = MAX_LEN.saturating_sub(tail.len() + 1);
    let slug: String = slug.chars().take(room.max(2)).collect();
    sanitise(&format!("{slug}-{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_to_the_sts_pattern() {
        assert_eq!(sanitise("my repo/feature:x"), "my-repo-feature-x");
        assert_eq!(sanitise("{abc}"), "abc");
        assert_eq!(sanitise("é"), "keyless");
        assert_eq!(sanitise(&"a".repeat(100)).len(), 64);
        for raw in ["", "::", "a", "x{y}z", &"ü".repeat(40)] {
            let s = sanitise(raw);
            assert!(validate(&s).is_ok(), "{raw:?} -> {s:?}");
        }
    }

    #[test]
    fn default_from_bitbucket_variables() {
        let name = default_name(
            Some("web-site"),
            Some("42"),
            Some("{6f2c7f8e-0d7e-4c3a-9a43-8d3d0c1b2a11}"),
            0,
        );
        assert_eq!(name, "web-site-42-6f2c7f8e-0d7e-4c3a-9a43-8d3d0c1b2a11");
        let long = default_name(
            Some(&"very-long-repository-name".repeat(3)),
            Some("123456"),
            Some("{6f2c7f8e-0d7e-4c3a-9a43-8d3d0c1b2a11}"),
            0,
        );
        assert!(
            long.len() <= 64 && long.ends_with("123456-6f2c7f8e-0d7e-4c3a-9a43-8d3d0c1b2a11"),
            "{long}"
        );
        assert!(validate(&long).is_ok());
        assert_eq!(
            default_name(None, None, None, 1700000000),
            "keyless-1700000000"
        );
    }

    #[test]
    fn validate_explains() {
        assert!(validate("a:b").unwrap_err().contains("`:`"));
        assert!(validate("a").unwrap_err().contains("2 to 64"));
    }
}
