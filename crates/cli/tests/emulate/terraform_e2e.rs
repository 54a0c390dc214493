//! Terraform (the machine's 1.11 with `hashicorp/aws` 5.100 from the offline mirror) against a spawned
//! `keyless emulate`, through the harness in `clients/terraform.rs`:
//! - `keyless plan --format terraform` output for one account is applied to the emulator's IAM, a second apply
//!   changes nothing ("No changes."), and `terraform destroy` leaves no role or provider;
//! - the provider's `assume_role_with_web_identity` block assumes a generated role from a token file written the
//!   articles' way (`echo $TOKEN > file`, trailing newline included) and `aws_caller_identity` sees the session.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use crate::support::{self, clients};

use clients::SpawnedEmulator;
use clients::terraform::{Auth, Terraform, provider_block};
use serde_json::json;

const ACCOUNT: &str = "111111111111";
const SLUG: &str = "acme-platform";
const WORKSPACE_UUID: &str = "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}";
/// `orders-api` in examples/keyless.yml: its synth role trusts steps without a deployment.
const ORDERS_API: &str = "{b4f2d0e3-5c8a-4f9b-8d72-3e6a9c1f8b24}";

fn plan_for_account(dir: &std::path::Path) -> String {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["plan", "-c"])
        .arg(support::repo_root().join("examples/keyless.yml"))
        .args(["--format", "terraform", "-o"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join(format!("{ACCOUNT}.tf.json"))).unwrap()
}

fn list(emu: &SpawnedEmulator) -> (Vec<String>, usize) {
    let iam = emu.iam(ACCOUNT);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let roles = iam.list_roles().send().await.unwrap();
        let providers = iam.list_open_id_connect_providers().send().await.unwrap();
        (
            roles
                .roles()
                .iter()
                .map(|r| r.role_name().to_owned())
                .collect(),
            providers.open_id_connect_provider_list().len(),
        )
    })
}

#[test]
fn keyless_plan_applies_reapplies_as_a_no_op_assumes_and_destroys() {
    let Some(tf) = Terraform::new() else { return };
    let emu = SpawnedEmulator::start(&[ACCOUNT, "222222222222"], &[]);
    let (key, secret) = emu.key(ACCOUNT);
    let plan_dir = tempfile::tempdir().unwrap();
    tf.write("main.tf.json", &plan_for_account(plan_dir.path()));
    tf.write(
        "provider.tf",
        &provider_block(
            &emu.endpoint,
            &Auth::Static {
                access_key: &key,
                secret_key: &secret,
            },
        ),
    );
    tf.ok(&["init", "-input=false", "-no-color"]);
    let applied = tf.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(applied.contains("Apply complete!"), "{applied}");
    let (roles, providers) = list(&emu);
    assert_eq!(providers, 1);
    assert!(roles.contains(&"orders-api-synth".to_owned()), "{roles:?}");

    // A second apply changes nothing: its plan finds no difference between the configuration and what refresh
    // read back (every attribute the provider reads round-trips through the emulator's IAM). No separate
    // `terraform plan`: each Terraform command starts the AWS provider 3-5 times, and that start-up (about 5 s of
    // CPU each; no call is retried) is what this test's time is made of.
    let again = tf.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        again.contains("No changes. Your infrastructure matches the configuration.")
            && again.contains("Apply complete! Resources: 0 added, 0 changed, 0 destroyed."),
        "{again}"
    );

    // The provider assumes a generated role from a token file, the articles' way.
    let web = Terraform::new().unwrap();
    let token = emu.mint(
        SLUG,
        ORDERS_API,
        json!({"workspace_uuid": WORKSPACE_UUID, "branch": "main"}),
    );
    let token_file = web.work().join("web-identity-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/orders-api-synth");
    web.write(
        "main.tf",
        &format!(
            "{}\ndata \"aws_caller_identity\" \"current\" {{}}\noutput \"arn\" {{ value = data.aws_caller_identity.current.arn }}\n",
            provider_block(
                &emu.endpoint,
                &Auth::WebIdentity {
                    role_arn: &role_arn,
                    token_file: &token_file,
                    session_name: "terraform-step",
                },
            )
        ),
    );
    web.ok(&["init", "-input=false", "-no-color"]);
    web.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let arn = web.ok(&["output", "-raw", "arn"]);
    assert_eq!(
        arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/orders-api-synth/terraform-step")
    );

    // Destroy leaves nothing.
    let destroyed = tf.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(destroyed.contains("Destroy complete!"), "{destroyed}");
    assert_eq!(list(&emu), (Vec::new(), 0));
}
