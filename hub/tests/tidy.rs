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

/// Every path a file names, as written or through its `use` items,
/// expanded to the full path its `use` items give: `use crate::{clock::{self,
/// Clock}}` names `crate::clock` and `crate::clock::Clock`, and a later
/// `Clock::now()` names `crate::clock::Clock::now`. Read with `syn`, so
/// comments and strings name nothing and no grouping hides a name.
fn named_paths(source: &str) -> Result<(Vec<String>, Vec<String>), syn::Error> {
    use syn::visit::Visit;

    fn flatten(tree: &syn::UseTree, prefix: &str, out: &mut Vec<(String, String)>) {
        let join = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}::{name}")
            }
        };
        match tree {
            syn::UseTree::Path(path) => flatten(&path.tree, &join(&path.ident.to_string()), out),
            syn::UseTree::Name(name) if name.ident == "self" => {
                let last = prefix.rsplit("::").next().unwrap_or(prefix).to_owned();
                out.push((last, prefix.to_owned()));
            }
            syn::UseTree::Name(name) => {
                out.push((name.ident.to_string(), join(&name.ident.to_string())))
            }
            syn::UseTree::Rename(rename) => {
                out.push((rename.rename.to_string(), join(&rename.ident.to_string())))
            }
            syn::UseTree::Glob(_) => out.push((String::new(), join("*"))),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    flatten(tree, prefix, out);
                }
            }
        }
    }

    #[derive(Default)]
    struct Names {
        imports: Vec<(String, String)>,
        paths: Vec<Vec<String>>,
        methods: Vec<String>,
    }
    impl<'ast> Visit<'ast> for Names {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            self.methods.push(call.method.to_string());
            syn::visit::visit_expr_method_call(self, call);
        }
        fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
            flatten(&item.tree, "", &mut self.imports);
        }
        fn visit_path(&mut self, path: &'ast syn::Path) {
            self.paths
                .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
            syn::visit::visit_path(self, path);
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            self.visit_path(&mac.path);
            // Macro bodies are tokens: read the paths in them too.
            let tokens: Vec<String> = mac
                .tokens
                .clone()
                .into_iter()
                .map(|t| t.to_string())
                .collect();
            let mut current: Vec<String> = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                let token = &tokens[i];
                let ident = token
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_');
                if ident {
                    current.push(token.clone());
                } else if token == ":" && tokens.get(i + 1).is_some_and(|t| t == ":") {
                    i += 1;
                } else if !current.is_empty() {
                    self.paths.push(std::mem::take(&mut current));
                }
                i += 1;
            }
            if !current.is_empty() {
                self.paths.push(current);
            }
        }
    }

    let file = syn::parse_file(source)?;
    let mut names = Names::default();
    names.visit_file(&file);
    let mut found: Vec<String> = names.imports.iter().map(|(_, full)| full.clone()).collect();
    for segments in names.paths {
        let Some(first) = segments.first() else {
            continue;
        };
        let expanded = match names.imports.iter().find(|(local, _)| local == first) {
            Some((_, full)) => std::iter::once(full.clone())
                .chain(segments[1..].iter().cloned())
                .collect::<Vec<_>>()
                .join("::"),
            None => segments.join("::"),
        };
        found.push(expanded);
    }
    Ok((found, names.methods))
}

/// A layer of the hub and what its files must not name (path prefixes).
struct Rule {
    layer: &'static str,
    forbidden: &'static [&'static str],
}

/// The layers, by the files that make them. A file in `hub/src` that no
/// entry claims fails the test, so a new module is placed on purpose.
const LAYERS: &[(&str, &str)] = &[
    ("hub/src/domain", "domain"),
    ("hub/src/app", "app"),
    ("hub/src/store", "store"),
    ("hub/src/grpc", "edge"),
    ("hub/src/fhir", "edge"),
    ("hub/src/board", "edge"),
    ("hub/src/edge", "edge-neutral"),
    ("hub/src/deadline.rs", "cross-cutting"),
    ("hub/src/tls.rs", "cross-cutting"),
    ("hub/src/metrics", "cross-cutting"),
    ("hub/src/telemetry.rs", "cross-cutting"),
    ("hub/src/clock.rs", "cross-cutting"),
    ("hub/src/config.rs", "assembly"),
    ("hub/src/startup.rs", "assembly"),
    ("hub/src/cli.rs", "assembly"),
    ("hub/src/main.rs", "assembly"),
    ("hub/src/lib.rs", "assembly"),
    ("hub/src/demo", "assembly"),
    ("hub/src/pki.rs", "assembly"),
    ("hub/src/bin/", "baseline"),
];

/// The layer a file of the hub belongs to (`hub/src/app.rs` and
/// `hub/src/app/…` both to `app`).
fn layer_of(path: &str) -> Option<&'static str> {
    LAYERS
        .iter()
        .find(|(prefix, _)| {
            path == *prefix
                || path.starts_with(&format!("{prefix}/"))
                || path == format!("{prefix}.rs")
                || (prefix.ends_with('/') && path.starts_with(prefix))
        })
        .map(|(_, layer)| *layer)
}

/// What each layer may not name. Proto types belong to the gRPC edge and the
/// echo baseline only, so every other layer names no `spil_proto`.
const RULES: &[Rule] = &[
    Rule {
        layer: "domain",
        forbidden: &[
            "tokio",
            "tonic",
            "prost",
            "sea_orm",
            "axum",
            "tower",
            "hyper",
            "spil_proto",
            "fhir_model",
            "std::env",
            "std::fs",
            "std::net",
            "std::time::SystemTime",
            "std::time::Instant",
            "chrono::Utc::now",
            "chrono::Local",
            "crate::clock",
            "crate::store",
            "crate::app",
            "crate::grpc",
            "crate::fhir",
            "crate::board",
            "crate::config",
        ],
    },
    Rule {
        layer: "app",
        forbidden: &[
            "tonic",
            "axum",
            "sea_orm",
            "spil_proto",
            "fhir_model",
            "crate::grpc",
            "crate::fhir",
            "crate::board",
        ],
    },
    Rule {
        layer: "store",
        forbidden: &[
            "tonic",
            "axum",
            "spil_proto",
            "fhir_model",
            "crate::app",
            "crate::grpc",
            "crate::fhir",
            "crate::board",
        ],
    },
    Rule {
        layer: "edge",
        forbidden: &["crate::store", "sea_orm", "crate::clock"],
    },
    // What every edge shares knows no edge and no wire but HTTP's.
    Rule {
        layer: "edge-neutral",
        forbidden: &[
            "spil_proto",
            "fhir_model",
            "sea_orm",
            "crate::store",
            "crate::grpc",
            "crate::fhir",
            "crate::board",
            "crate::clock",
        ],
    },
    Rule {
        layer: "cross-cutting",
        forbidden: &[
            "spil_proto",
            "sea_orm",
            "crate::store",
            "crate::grpc",
            "crate::fhir",
            "crate::board",
        ],
    },
    Rule {
        layer: "assembly",
        forbidden: &["spil_proto", "sea_orm"],
    },
];

/// The edges, by where they live and how they are named.
const EDGES: &[(&str, &str)] = &[
    ("hub/src/grpc", "crate::grpc"),
    ("hub/src/fhir", "crate::fhir"),
    ("hub/src/board", "crate::board"),
];

/// The findings for one file: forbidden names, a missing `//!` opening,
/// or a file no layer claims.
fn findings(path: &str, source: &str) -> Vec<String> {
    let Some(layer) = layer_of(path) else {
        return vec![format!("{path}: in no layer (add it to LAYERS)")];
    };
    let mut found = Vec::new();
    let file = match syn::parse_file(source) {
        Ok(file) => file,
        Err(error) => return vec![format!("{path}: does not parse: {error}")],
    };
    let opens_with_doc = file
        .attrs
        .first()
        .is_some_and(|a| matches!(a.style, syn::AttrStyle::Inner(_)) && a.path().is_ident("doc"));
    if !opens_with_doc {
        found.push(format!("{path}: no opening //! line"));
    }
    let (names, methods) = named_paths(source).expect("parsed above");
    // The domain takes time as an argument; an edge shows an answer at the
    // moment the use-case drew it, and a second reading could disagree.
    if matches!(layer, "domain" | "edge") && methods.iter().any(|m| m == "now") {
        found.push(format!("{path} ({layer}): reads a clock (.now())"));
    }
    // An edge reaches the store only through the use-cases: a path to it
    // by method (`app.store().hold(…)`) is as much a breach as an import.
    if matches!(layer, "edge" | "edge-neutral") && methods.iter().any(|m| m == "store") {
        found.push(format!("{path} ({layer}): reaches the store (.store())"));
    }
    // Ours, then the edges' own wire: `pb::` is the gRPC edge's alias.
    let in_grpc = path.starts_with("hub/src/grpc");
    for rule in RULES.iter().filter(|r| r.layer == layer) {
        for name in &names {
            let wire_alias = !in_grpc && layer != "baseline" && name.starts_with("pb::");
            let forbidden = rule
                .forbidden
                .iter()
                .find(|f| name == *f || name.starts_with(&format!("{f}::")));
            if let Some(forbidden) = forbidden {
                found.push(format!("{path} ({layer}): names {name} ({forbidden})"));
            } else if wire_alias {
                found.push(format!("{path} ({layer}): names {name} (proto types)"));
            }
        }
    }
    // The edges sit side by side: none names another, and only gRPC speaks proto.
    if let Some((_, own)) = EDGES.iter().find(|(prefix, _)| path.starts_with(prefix)) {
        let another = |name: &str| {
            EDGES.iter().any(|(_, other)| {
                other != own && (name == *other || name.starts_with(&format!("{other}::")))
            }) || (*own != "crate::grpc" && name.starts_with("spil_proto"))
        };
        for name in names.iter().filter(|n| another(n)) {
            found.push(format!("{path} (edge): names {name} (another edge)"));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Findings known and not yet mended, each with why; the list may only
/// shrink (an entry that no longer turns up fails the test too).
const KNOWN: &[(&str, &str)] = &[];

#[test]
fn every_file_keeps_to_its_layer() {
    let hub = sources(&root().join("hub/src"));
    assert!(hub.len() > 40, "the hub's sources were found");
    let found: Vec<String> = hub
        .iter()
        .flat_map(|(path, text)| findings(path, text))
        .collect();
    let known: Vec<&str> = KNOWN.iter().map(|(finding, _)| *finding).collect();
    let new: Vec<&String> = found
        .iter()
        .filter(|f| !known.contains(&f.as_str()))
        .collect();
    assert!(new.is_empty(), "{new:#?}");
    let mended: Vec<&&str> = known
        .iter()
        .filter(|k| !found.iter().any(|f| f == **k))
        .collect();
    assert!(
        mended.is_empty(),
        "mended, so take them off KNOWN: {mended:#?}"
    );
}

#[test]
fn every_module_opens_with_a_line_on_what_it_is_for() {
    let mut missing = Vec::new();
    for crate_dir in [
        "hub/tests",
        "proto/src",
        "clients",
        "cli",
        "bench",
        "check",
        "tests",
    ] {
        for (path, text) in sources(&root().join(crate_dir)) {
            if path.contains("/target/") {
                continue;
            }
            let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            let opens_with_doc = file.attrs.first().is_some_and(|a| {
                matches!(a.style, syn::AttrStyle::Inner(_)) && a.path().is_ident("doc")
            });
            if !opens_with_doc {
                missing.push(path);
            }
        }
    }
    assert!(missing.is_empty(), "no opening //! line: {missing:#?}");
}

/// The most lines a file may hold outside its tests.
const MAX_FILE_LINES: usize = 800;
/// The most lines one function may span (migrations aside: a schema is
/// read top to bottom).
const MAX_FUNCTION_LINES: usize = 120;

/// Rooms too large to read whole: a file over [`MAX_FILE_LINES`] not
/// counting its `#[cfg(test)]` items, and every function (free, in an
/// `impl` or a trait, nested in a module) over [`MAX_FUNCTION_LINES`].
/// Each finding is the room (`path`, or `path: fn name`) and its lines.
fn oversized(path: &str, source: &str) -> Vec<(String, usize)> {
    use syn::spanned::Spanned as _;
    use syn::visit::Visit;

    struct Functions<'p> {
        path: &'p str,
        found: Vec<(String, usize)>,
    }
    impl Functions<'_> {
        fn measure(&mut self, name: &syn::Ident, span: proc_macro2::Span) {
            let lines = span.end().line + 1 - span.start().line;
            if lines > MAX_FUNCTION_LINES {
                self.found
                    .push((format!("{}: fn {name}", self.path), lines));
            }
        }
    }
    impl<'ast> Visit<'ast> for Functions<'_> {
        fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
            self.measure(&item.sig.ident, item.span());
            syn::visit::visit_item_fn(self, item);
        }
        fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
            self.measure(&item.sig.ident, item.span());
            syn::visit::visit_impl_item_fn(self, item);
        }
        fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
            self.measure(&item.sig.ident, item.span());
            syn::visit::visit_trait_item_fn(self, item);
        }
    }

    let file = match syn::parse_file(source) {
        Ok(file) => file,
        Err(error) => panic!("{path}: does not parse: {error}"),
    };
    let for_tests = |attrs: &[syn::Attribute]| {
        attrs.iter().any(|a| {
            a.path().is_ident("cfg")
                && a.meta
                    .require_list()
                    .is_ok_and(|list| list.tokens.to_string() == "test")
        })
    };
    let test_lines: usize = file
        .items
        .iter()
        .filter(|item| match item {
            syn::Item::Mod(module) => for_tests(&module.attrs),
            syn::Item::Fn(function) => for_tests(&function.attrs),
            _ => false,
        })
        .map(|item| item.span().end().line + 1 - item.span().start().line)
        .sum();
    let mut found = Vec::new();
    let lines = source.lines().count() - test_lines;
    if lines > MAX_FILE_LINES {
        found.push((path.to_owned(), lines));
    }
    if !path.ends_with("store/migration.rs") {
        let mut functions = Functions {
            path,
            found: Vec::new(),
        };
        for item in file.items.iter().filter(|item| match item {
            syn::Item::Mod(module) => !for_tests(&module.attrs),
            _ => true,
        }) {
            functions.visit_item(item);
        }
        found.extend(functions.found);
    }
    found
}

/// Rooms left large on purpose, each with why; the list may only shrink.
const LEFT_LARGE: &[(&str, &str)] = &[];

#[test]
fn no_room_is_too_large_to_read() {
    let mut found = Vec::new();
    for crate_dir in [
        "hub/src",
        "hub/benches",
        "proto/src",
        "clients",
        "cli",
        "bench",
        "check",
        "words",
    ] {
        for (path, text) in sources(&root().join(crate_dir)) {
            found.extend(oversized(&path, &text));
        }
    }
    let left: Vec<&str> = LEFT_LARGE.iter().map(|(room, _)| *room).collect();
    let new: Vec<String> = found
        .iter()
        .filter(|(room, _)| !left.contains(&room.as_str()))
        .map(|(room, lines)| format!("{room}: {lines} lines"))
        .collect();
    assert!(new.is_empty(), "too large to read whole: {new:#?}");
    let mended: Vec<&&str> = left
        .iter()
        .filter(|l| !found.iter().any(|(room, _)| room == **l))
        .collect();
    assert!(
        mended.is_empty(),
        "no longer large, so take them off LEFT_LARGE: {mended:#?}"
    );
}

/// Each rule fails on a planted violation: a rule that finds nothing
/// proves nothing.
mod rules_catch_planted_violations {
    use super::findings;

    fn caught(path: &str, source: &str, expected: &str) {
        let found = findings(path, source);
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{path}: expected a finding naming {expected}, got {found:?}"
        );
    }

    const DOC: &str = "//! A module.\n";

    #[test]
    fn a_grouped_import_of_the_clock_in_the_domain() {
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}use crate::{{clock::Clock, store}};"),
            "crate::clock",
        );
    }

    #[test]
    fn the_file_system_and_environment_in_the_domain() {
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}use std::{{env, fs}};"),
            "std::env",
        );
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}use std::{{env, fs}};"),
            "std::fs",
        );
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}fn f() {{ let _ = std::net::Ipv4Addr::LOCALHOST; }}"),
            "std::net",
        );
    }

    #[test]
    fn the_wall_clock_in_the_domain_through_an_import() {
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}use std::time::SystemTime;\nfn f() {{ SystemTime::now(); }}"),
            "std::time::SystemTime",
        );
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}fn f() {{ chrono::Utc::now(); }}"),
            "chrono::Utc::now",
        );
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}use chrono::Utc;\nfn f() {{ Utc::now(); }}"),
            "chrono::Utc::now",
        );
    }

    #[test]
    fn async_runtimes_and_wire_in_the_domain() {
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}async fn f() {{ tokio::task::yield_now().await; }}"),
            "tokio",
        );
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}use prost::Message;"),
            "prost",
        );
    }

    #[test]
    fn the_gateways_of_an_edge_in_the_use_cases_and_the_store() {
        caught(
            "hub/src/app/x.rs",
            &format!("{DOC}fn f(refusal: tonic::Status) -> String {{ refusal.to_string() }}"),
            "tonic",
        );
        caught(
            "hub/src/store/x.rs",
            &format!("{DOC}use axum::Router;"),
            "axum",
        );
        caught(
            "hub/src/app.rs",
            &format!("{DOC}use crate::grpc::status;"),
            "crate::grpc",
        );
    }

    #[test]
    fn the_store_named_by_an_edge() {
        caught(
            "hub/src/grpc/x.rs",
            &format!("{DOC}use crate::store::Store;"),
            "crate::store",
        );
        caught(
            "hub/src/fhir.rs",
            &format!("{DOC}use crate::{{app::App, store}};"),
            "crate::store",
        );
    }

    #[test]
    fn the_store_reached_by_method_from_an_edge() {
        caught(
            "hub/src/grpc/capacity.rs",
            &format!("{DOC}async fn f(app: &App) {{ app.store().ping().await; }}"),
            ".store()",
        );
        caught(
            "hub/src/edge/identity.rs",
            &format!("{DOC}fn f(app: &App) {{ let _ = app.store(); }}"),
            ".store()",
        );
    }

    #[test]
    fn an_edge_naming_another() {
        caught(
            "hub/src/board/x.rs",
            &format!("{DOC}use crate::grpc::status::ERROR_DOMAIN;"),
            "another edge",
        );
        caught(
            "hub/src/grpc/x.rs",
            &format!("{DOC}fn f() {{ crate::board::router(); }}"),
            "another edge",
        );
        caught(
            "hub/src/fhir.rs",
            &format!("{DOC}use crate::{{board, app::App}};"),
            "another edge",
        );
        caught(
            "hub/src/board.rs",
            &format!("{DOC}use spil_proto::v1 as pb;"),
            "another edge",
        );
    }

    #[test]
    fn the_board_named_below_the_edges() {
        for path in [
            "hub/src/app/x.rs",
            "hub/src/store/x.rs",
            "hub/src/domain/x.rs",
            "hub/src/edge/calls.rs",
        ] {
            caught(
                path,
                &format!("{DOC}use crate::board::Text;"),
                "crate::board",
            );
        }
    }

    #[test]
    fn an_edge_or_its_wire_named_by_what_the_edges_share() {
        caught(
            "hub/src/edge/calls.rs",
            &format!("{DOC}use crate::grpc::status::reason_of_code;"),
            "crate::grpc",
        );
        caught(
            "hub/src/edge/identity.rs",
            &format!("{DOC}fn f(_: spil_proto::v1::Offering) {{}}"),
            "spil_proto",
        );
    }

    #[test]
    fn proto_types_beyond_the_grpc_edge() {
        caught(
            "hub/src/fhir.rs",
            &format!("{DOC}use spil_proto::v1 as pb;"),
            "spil_proto",
        );
        caught(
            "hub/src/app/x.rs",
            &format!("{DOC}fn f(_: pb::Offering) {{}}"),
            "pb::Offering",
        );
        caught(
            "hub/src/startup.rs",
            &format!("{DOC}use spil_proto::FILE_DESCRIPTOR_SET;"),
            "spil_proto",
        );
    }

    #[test]
    fn a_name_inside_a_macro_call() {
        caught(
            "hub/src/domain/x.rs",
            &format!("{DOC}fn f() {{ println!(\"{{}}\", std::env::args().count()); }}"),
            "std::env",
        );
    }

    #[test]
    fn a_module_without_its_opening_line_and_a_file_in_no_layer() {
        caught("hub/src/app/x.rs", "use std::fmt;", "no opening //! line");
        caught("hub/src/newcomer.rs", DOC, "in no layer");
    }

    #[test]
    fn a_clock_read_by_method_in_an_edge() {
        caught(
            "hub/src/grpc/x.rs",
            &format!("{DOC}fn f(c: &dyn Clock) {{ c.now(); }}"),
            ".now()",
        );
    }

    #[test]
    fn a_long_function_and_a_long_file_but_not_their_tests() {
        let body = "    let _ = 1;\n".repeat(120);
        let long = format!("{DOC}impl S {{\n    fn long() {{\n{body}    }}\n}}\n");
        assert_eq!(
            super::oversized("cli/src/x.rs", &long),
            vec![("cli/src/x.rs: fn long".to_owned(), 122)]
        );
        let short = format!("{DOC}fn short() {{\n{}}}\n", "    let _ = 1;\n".repeat(118));
        assert!(super::oversized("cli/src/x.rs", &short).is_empty());
        let items = "const A: u8 = 1;\n".repeat(801);
        let file = format!("{DOC}{items}");
        assert_eq!(
            super::oversized("cli/src/x.rs", &file),
            vec![("cli/src/x.rs".to_owned(), 802)]
        );
        let tested = format!(
            "{DOC}#[cfg(test)]\nmod tests {{\n{items}\n    fn long() {{\n{body}    }}\n}}\n"
        );
        assert!(super::oversized("cli/src/x.rs", &tested).is_empty());
        assert!(super::oversized("hub/src/store/migration.rs", &long).is_empty());
    }

    #[test]
    fn comments_and_strings_name_nothing() {
        let source =
            format!("{DOC}// tokio and crate::store, in prose\nconst S: &str = \"crate::clock\";");
        assert!(super::findings("hub/src/domain/x.rs", &source).is_empty());
    }
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
