//! The configuration as an operator meets it, through the real binary:
//! replicas on PostgreSQL need a shared secret, secrets never print, and a
//! mistyped variable stops the hub instead of passing silently.

use std::process::{Command, Output};

fn spil_hub(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spil-hub"));
    command.args(args);
    // Only what the test gives: the hub refuses unknown SPIL_ variables.
    #[allow(clippy::disallowed_methods)] // cleaning the child's environment
    let inherited = std::env::vars();
    for (name, _) in inherited.filter(|(name, _)| name.starts_with("SPIL_")) {
        command.env_remove(name);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("spil-hub runs")
}

const DATABASE: &str = "postgres://spil:hunter2@db.internal:5432/spil";

#[test]
fn serve_on_postgresql_refuses_to_start_without_a_shared_secret() {
    let output = spil_hub(&["serve"], &[("SPIL_DATABASE_URL", DATABASE)]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("page_token_secret"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = std::env::temp_dir().join(format!("spil-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("page-token-secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef-shared\n").unwrap();
    let output = spil_hub(
        &["config", "check"],
        &[
            ("SPIL_DATABASE_URL", DATABASE),
            ("SPIL_PAGE_TOKEN_SECRET_FILE", &secret.display().to_string()),
            ("SPIL_WATCH_BUFFER", "16"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("postgres://spil:***@db.internal:5432/spil"),
        "{stdout}"
    );
    assert!(stdout.contains("(set, 39 bytes)"), "{stdout}");
    assert!(stdout.contains("watch_buffer = 16"), "{stdout}");
    assert!(!stdout.contains("hunter2") && !stdout.contains("0123456789abcdef"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_mistyped_variable_is_named_and_refused() {
    let output = spil_hub(&["config", "check"], &[("SPIL_WATCH_BUFER", "16")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SPIL_WATCH_BUFER"), "{stderr}");
}

#[test]
fn migrate_runs_the_migrations_on_their_own() {
    let dir = std::env::temp_dir().join(format!("spil-migrate-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("spil.sqlite").display());
    for _ in 0..2 {
        let output = spil_hub(&["migrate"], &[("SPIL_DATABASE_URL", &url)]);
        assert!(output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("migrated"));
    }
    assert!(dir.join("spil.sqlite").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every configuration file the project ships is one `config check`
/// accepts: a key renamed in the hub but not in a shipped file fails here.
#[test]
fn every_shipped_configuration_file_passes_config_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shipped = ["deploy/hub.toml", "deploy/kubernetes/base/hub.toml"];
    for file in shipped {
        let path = root.join(file);
        let output = spil_hub(
            &["config", "check", "--config", &path.display().to_string()],
            &[("SPIL_PAGE_TOKEN_SECRET", &"s".repeat(48))],
        );
        assert!(output.status.success(), "{file}: {output:?}");
    }
}
