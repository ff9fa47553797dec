//! The layering, held by reading the source: what each layer may name.
//! (After rust-analyzer's tidy tests: the architecture document states the
//! boundaries, this test keeps them.)

use std::path::{Path, PathBuf};

/// The workspace root, from this crate's manifest directory.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the hub crate lies in the workspace")
        .to_owned()
}

/// Every file under `dir` that `wanted` keeps, with its path relative to
/// the root; build output, installed packages and git's own files left out.
fn files(dir: &Path, wanted: impl Fn(&Path) -> bool) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                if !matches!(
                    name.as_ref(),
                    "target" | "node_modules" | ".git" | ".venv" | "__pycache__"
                ) {
                    pending.push(path);
                }
            } else if wanted(&path) {
                let text = std::fs::read_to_string(&path).expect("a source file");
                let relative = path
                    .strip_prefix(root())
                    .expect("under the root")
                    .to_string_lossy()
                    .replace('\\', "/");
                found.push((relative, text));
            }
        }
    }
    found.sort();
    found
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<(String, String)> {
    files(dir, |path| path.extension().is_some_and(|e| e == "rs"))
}

/// The code of a file without its comments, so that prose may name what
/// code may not.
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Files whose code names any of `forbidden`, with the name found.
fn naming(files: &[(String, String)], forbidden: &[&str]) -> Vec<String> {
    files
        .iter()
        .flat_map(|(path, text)| {
            let code = code(text);
            forbidden
                .iter()
                .filter(move |name| code.contains(*name))
                .map(move |name| format!("{path}: {name}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn in_layer(files: &[(String, String)], prefixes: &[&str]) -> Vec<(String, String)> {
    files
        .iter()
        .filter(|(path, _)| prefixes.iter().any(|p| path.starts_with(p)))
        .cloned()
        .collect()
}

fn outside_layer(files: &[(String, String)], prefixes: &[&str]) -> Vec<(String, String)> {
    files
        .iter()
        .filter(|(path, _)| !prefixes.iter().any(|p| path.starts_with(p)))
        .cloned()
        .collect()
}

#[test]
fn the_domain_does_no_io_reads_no_clock_and_knows_no_wire_or_table() {
    let hub = sources(&root().join("hub/src"));
    let domain = in_layer(&hub, &["hub/src/domain/", "hub/src/domain.rs"]);
    assert!(domain.len() > 10, "the domain was found");
    let violations = naming(
        &domain,
        &[
            "tokio",
            "tonic",
            "prost",
            "sea_orm",
            "spil_proto",
            "std::env",
            "std::fs",
            "std::net",
            "Utc::now",
            "SystemClock",
            "crate::clock",
            "crate::store",
            "crate::app",
            "crate::grpc",
        ],
    );
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn wire_types_stay_at_the_edge_and_rows_in_the_store() {
    let hub = sources(&root().join("hub/src"));
    // Generated proto types: the gRPC edge, and the echo baseline that
    // serves the benchmark's own protocol.
    let beyond_the_edge =
        outside_layer(&hub, &["hub/src/grpc/", "hub/src/grpc.rs", "hub/src/bin/"]);
    let violations = naming(&beyond_the_edge, &["spil_proto", "pb::"]);
    assert!(violations.is_empty(), "{violations:#?}");
    // sea-orm and its rows: the store (startup only hands it a config).
    let beyond_the_store = outside_layer(&hub, &["hub/src/store/", "hub/src/store.rs"]);
    let violations = naming(
        &beyond_the_store,
        &["sea_orm", "entities::", "DatabaseTransaction"],
    );
    assert!(violations.is_empty(), "{violations:#?}");
    // FHIR models: the FHIR edge.
    let beyond_the_fhir_edge = outside_layer(&hub, &["hub/src/fhir/", "hub/src/fhir.rs"]);
    let violations = naming(&beyond_the_fhir_edge, &["fhir_model"]);
    assert!(violations.is_empty(), "{violations:#?}");
    // Each edge reaches the store only through the use-cases, and knows no
    // wire but its own.
    let fhir = in_layer(&hub, &["hub/src/fhir/", "hub/src/fhir.rs"]);
    assert!(fhir.len() >= 2, "the FHIR edge was found");
    let violations = naming(&fhir, &["crate::store", "store::", "spil_proto", "pb::"]);
    assert!(violations.is_empty(), "{violations:#?}");
    let violations = naming(&fhir, &[".now()", "crate::clock"]);
    assert!(violations.is_empty(), "{violations:#?}");
    let edge = in_layer(&hub, &["hub/src/grpc/", "hub/src/grpc.rs"]);
    let violations = naming(&edge, &["crate::store", "store::"]);
    assert!(violations.is_empty(), "{violations:#?}");
    // The edge shows a use-case's answer at the moment it was drawn at; a
    // second reading of the clock there could disagree with it.
    let violations = naming(&edge, &[".now()", "crate::clock"]);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn every_module_opens_with_a_line_on_what_it_is_for() {
    let mut missing = Vec::new();
    for crate_dir in [
        "hub/src",
        "hub/tests",
        "proto/src",
        "clients",
        "cli",
        "bench",
        "tests",
    ] {
        for (path, text) in sources(&root().join(crate_dir)) {
            if path.contains("/target/") {
                continue;
            }
            if !text.trim_start().starts_with("//!") {
                missing.push(path);
            }
        }
    }
    assert!(missing.is_empty(), "no opening //! line: {missing:#?}");
}

/// Every script and test of the workspace: shell, Python and Rust.
fn scripts_and_tests() -> Vec<(String, String)> {
    files(&root(), |path| {
        path.extension()
            .is_some_and(|e| e == "sh" || e == "py" || e == "rs")
            || path.ends_with(".ci/run")
    })
}

#[test]
fn no_script_or_test_probes_a_free_port_and_hands_it_on() {
    // A port found free by binding port 0 and closing the socket can be taken
    // by any outgoing connection before the server binds it (CI once lost a
    // benchmark run so). A server listens on port 0 itself and announces the
    // port it got; etcd, which cannot, takes one below the ephemeral range.
    let mut probes = Vec::new();
    for (path, text) in scripts_and_tests() {
        if path == "hub/tests/tidy.rs" {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            let reads_back_a_probe = line.contains("getsockname")
                || (line.contains("TcpListener::bind(")
                    && line.contains("local_addr()")
                    && line.contains(".port()"));
            if reads_back_a_probe {
                probes.push(format!("{path}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(probes.is_empty(), "a probed port handed on: {probes:#?}");
}
