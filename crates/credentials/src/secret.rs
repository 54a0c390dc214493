//! A string that must never be printed by accident: OIDC tokens, secret access keys, session tokens. The type is
//! keyless-secret's [`Secret`] (through keyless-oidc), the one secret type of the workspace.

pub use keyless_oidc::Secret;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("canary-value");
        assert!(!format!("{secret:?}").contains("canary"));
        assert!(!format!("{secret}").contains("canary"));
        assert_eq!(secret.expose(), "canary-value");
    }
}
