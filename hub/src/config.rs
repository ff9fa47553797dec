//! One typed configuration: defaults, then a TOML file, then `SPIL_…`
//! environment variables. The only reader of the environment.

use crate::domain::capacity::FreshnessPolicy;
use crate::tls::TlsFiles;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `SPIL_` variables of the command line client and the test harness, not
/// of the hub.
const CLIENT_VARIABLES: &[&str] = &[
    "HUB",
    "CA",
    "CERT",
    "KEY",
    "PERSON",
    "AS",
    "TEST_DATABASE_URL",
];

/// Fields that hold secrets: they may come from `SPIL_<FIELD>_FILE`, and
/// `config check` prints them redacted.
const SECRET_FIELDS: &[&str] = &["database_url", "page_token_secret"];

/// The FHIR canonical base unless configured: the project's own namespace,
/// stable across releases (the README's versioning promise covers it).
pub const DEFAULT_FHIR_CANONICAL_BASE: &str = "https://spil-hub.nl/fhir";

/// The shortest page-token secret replicas may share.
pub const MIN_SECRET_BYTES: usize = 32;

/// A secret that never appears in logs or `Debug` output.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// The mTLS gRPC listener. Port 0 picks a free port.
    pub listen_addr: SocketAddr,
    /// A plaintext listener serving only `grpc.health.v1`, for probes that
    /// cannot present a client certificate. Off when unset.
    pub admin_addr: Option<SocketAddr>,
    /// The read-only FHIR endpoint (`/fhir`), behind the same mTLS as
    /// gRPC. Off when unset.
    pub fhir_listen_addr: Option<SocketAddr>,
    /// The canonical base under which the FHIR endpoint names the hub's
    /// code systems, measure and identifier systems. Integrators copy these
    /// URLs into their own profiles and mappings: choose it once (a domain
    /// the operator controls) and never change it.
    pub fhir_canonical_base: String,
    /// The public address of the FHIR endpoint (for example
    /// `https://fhir.example.nl/spil/fhir` behind an ingress), used in
    /// bundle links and `fullUrl`s. Unset, the request's `Host` is used.
    pub fhir_base_url: Option<String>,
    /// `sqlite://file.sqlite` (embedded default) or `postgres://…`. May
    /// hold a password: printed redacted; `SPIL_DATABASE_URL_FILE` reads it
    /// from a file (a mounted Kubernetes secret).
    pub database_url: Secret,
    pub database_pool_size: u32,
    /// `text` (for a terminal) or `json` (one object a line, for a log collector).
    pub log_format: crate::telemetry::LogFormat,
    /// Where traces go, as OTLP over gRPC (e.g. `http://collector:4317`);
    /// unset, the standard `OTEL_EXPORTER_OTLP_ENDPOINT` applies, and
    /// without either no traces are exported.
    pub otlp_endpoint: Option<String>,
    /// How often metrics are pushed to `otlp_endpoint`, in milliseconds.
    pub otlp_metrics_interval_ms: u64,
    /// PostgreSQL: the longest any statement may run; a write for a call
    /// with a deadline (`grpc-timeout`) gets the call's remaining time
    /// when that is shorter.
    pub database_statement_timeout_ms: u64,
    pub tls: TlsFiles,
    /// Signs page tokens; replicas behind one address must share it, so
    /// `serve` on PostgreSQL refuses to start without one of at least 32
    /// bytes. The demo and SQLite make a random one when unset.
    /// `SPIL_PAGE_TOKEN_SECRET_FILE` reads it from a file.
    pub page_token_secret: Option<Secret>,
    /// Run the database migrations when the hub starts; off when a
    /// Kubernetes Job runs `spil-hub migrate` before a rollout.
    pub migrate_on_start: bool,
    /// How long a crisis-bed publication stays fresh.
    pub crisis_bed_fresh_hours: u32,
    /// How long a publication of any other place type stays fresh.
    pub other_fresh_days: u32,
    /// How often expired holds are marked expired (their places are free at
    /// once regardless; this only tells watchers).
    pub hold_sweep_interval_ms: u64,
    /// How long the change log keeps revisions; a watch resuming from an
    /// older revision gets OUT_OF_RANGE and starts from a snapshot.
    pub change_log_retention_hours: u32,
    /// How often the TLS files are checked for changes (a new CRL, a renewed certificate).
    pub tls_reload_interval_ms: u64,
    /// Messages buffered per watch stream before the hub waits for the client.
    pub watch_buffer: usize,
    /// How long shutdown waits for open calls before it cuts them.
    pub shutdown_grace_ms: u64,
    /// Each organisation's sustained rate of calls (a token bucket per
    /// organisation): one organisation's flood cannot starve another's
    /// crisis searches. Beyond it: RESOURCE_EXHAUSTED with RetryInfo.
    pub org_calls_per_second: u32,
    /// How many calls an organisation may make at once above its rate.
    pub org_call_burst: u32,
    /// Open watch streams (capacity and consultations) per organisation.
    pub org_max_watches: u32,
    /// Calls the hub runs at once over all connections; beyond it a call is
    /// refused at once (RESOURCE_EXHAUSTED with RetryInfo), not queued.
    pub max_in_flight: u32,
    /// Open client connections; beyond it a new one is closed at once.
    pub max_connections: u32,
    /// TLS handshakes in progress at once; more wait for a free slot.
    pub max_tls_handshakes: u32,
    /// How often readiness (health service `spil.ready`) pings the database.
    pub readiness_interval_ms: u64,
    /// How far this replica's clock may be from the database's. Hold expiry
    /// is decided by each replica's clock, so replicas agree on it to within
    /// this bound: beyond it a replica reports itself not ready and runs no
    /// housekeeping until its clock is set right. 0 turns the check off.
    pub max_clock_skew_ms: u64,
    /// How long a stopping hub keeps serving after it reported NOT_SERVING,
    /// so that load balancers stop sending before it stops accepting.
    pub shutdown_drain_ms: u64,
    /// Time to a first answer on a crisis consultation.
    pub consultation_crisis_deadline_hours: u32,
    /// Time to a first answer on an urgent consultation.
    pub consultation_urgent_deadline_days: u32,
    /// Time to a first answer on a routine consultation.
    pub consultation_routine_deadline_days: u32,
    /// How long an ended consultation keeps its content before it is erased.
    pub consultation_retention_days: u32,
    /// Time a provider has to answer a crisis placement request; its hold
    /// is kept that long.
    pub placement_crisis_answer_minutes: u32,
    /// Time to answer an urgent placement request.
    pub placement_urgent_answer_hours: u32,
    /// Time to answer a regular placement request.
    pub placement_regular_answer_hours: u32,
    /// Held places one placement request may go to at once (1 to 10).
    pub placement_max_providers: u32,
    /// `SPIL_…` variables the platform injected (Kubernetes service links
    /// of a Service named `spil…`), tolerated and named in the debug log.
    #[serde(skip)]
    pub platform_variables: Vec<String>,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            listen_addr: "127.0.0.1:50051".parse().expect("valid address"),
            admin_addr: None,
            fhir_listen_addr: None,
            fhir_canonical_base: DEFAULT_FHIR_CANONICAL_BASE.to_owned(),
            fhir_base_url: None,
            database_url: Secret::new("sqlite://spil.sqlite"),
            database_pool_size: 8,
            log_format: crate::telemetry::LogFormat::Text,
            otlp_endpoint: None,
            otlp_metrics_interval_ms: 15_000,
            database_statement_timeout_ms: 10_000,
            tls: TlsFiles {
                server_cert: "pki/server.pem".into(),
                server_key: "pki/server-key.pem".into(),
                client_ca: "pki/client-ca.pem".into(),
                client_crls: vec!["pki/client-ca.crl.pem".into()],
            },
            page_token_secret: None,
            migrate_on_start: true,
            crisis_bed_fresh_hours: 12,
            other_fresh_days: 7,
            hold_sweep_interval_ms: 1000,
            change_log_retention_hours: 168,
            tls_reload_interval_ms: 10_000,
            watch_buffer: 64,
            shutdown_grace_ms: 5000,
            shutdown_drain_ms: 5000,
            readiness_interval_ms: 2000,
            max_clock_skew_ms: 1000,
            org_calls_per_second: 200,
            org_call_burst: 400,
            org_max_watches: 64,
            max_tls_handshakes: 64,
            max_in_flight: 1024,
            max_connections: 10_000,
            consultation_crisis_deadline_hours: 24,
            consultation_urgent_deadline_days: 5,
            consultation_routine_deadline_days: 28,
            placement_crisis_answer_minutes: 60,
            placement_urgent_answer_hours: 8,
            placement_regular_answer_hours: 72,
            placement_max_providers: 3,
            consultation_retention_days: 365,
            platform_variables: Vec::new(),
        }
    }
}

impl HubConfig {
    /// Defaults, overlaid by `file` (if given) and then by every
    /// `SPIL_<FIELD>` environment variable (`SPIL_TLS__CLIENT_CA` for nested fields).
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        #[allow(clippy::disallowed_methods)] // the one sanctioned reader of the environment
        let vars = std::env::vars();
        Self::load_from(file, vars)
    }

    /// [`HubConfig::load`] with the environment given. A `SPIL_` variable
    /// that names no configuration field is an error (a typo must not pass
    /// silently), except the command line client's own (`SPIL_HUB`,
    /// `SPIL_CA`, …). `SPIL_<SECRET>_FILE` reads a secret from a file. A
    /// file is held to its fields strictly.
    pub fn load_from(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut platform_variables = Vec::new();
        let standard_otlp_endpoint = vars
            .iter()
            .find(|(name, value)| name == "OTEL_EXPORTER_OTLP_ENDPOINT" && !value.is_empty())
            .map(|(_, value)| value.clone());
        let mut table =
            toml::Table::try_from(Self::default()).context("failed to encode defaults")?;
        let fields: Vec<String> = table
            .keys()
            .cloned()
            .chain([
                "admin_addr".into(),
                "fhir_listen_addr".into(),
                "fhir_base_url".into(),
                "page_token_secret".into(),
                "otlp_endpoint".into(),
            ])
            .collect();
        if let Some(file) = file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("failed to read config file {}", file.display()))?;
            let overlay: toml::Table = toml::from_str(&text)
                .with_context(|| format!("invalid TOML in {}", file.display()))?;
            merge(&mut table, overlay);
        }
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("SPIL_") else {
                continue;
            };
            let path: Vec<String> = key
                .to_ascii_lowercase()
                .split("__")
                .map(str::to_owned)
                .collect();
            if CLIENT_VARIABLES.contains(&key) {
                continue;
            }
            let (path, value) = match path[0].strip_suffix("_file") {
                Some(secret) if path.len() == 1 && SECRET_FIELDS.contains(&secret) => {
                    let text = std::fs::read_to_string(&value)
                        .with_context(|| format!("failed to read {name} ({value})"))?;
                    (
                        vec![secret.to_owned()],
                        text.trim_end_matches(['\n', '\r']).to_owned(),
                    )
                }
                _ => (path, value),
            };
            if !fields.contains(&path[0]) && is_service_link(&name, &value) {
                platform_variables.push(name);
                continue;
            }
            anyhow::ensure!(
                fields.contains(&path[0]),
                "{name} names no configuration field (see `spil-hub config check`)"
            );
            set_path(&mut table, &path, &value).with_context(|| format!("invalid {name}"))?;
        }
        let mut config: Self = table.try_into().context("invalid configuration")?;
        if config.otlp_endpoint.is_none() {
            config.otlp_endpoint = standard_otlp_endpoint;
        }
        platform_variables.sort();
        config.platform_variables = platform_variables;
        config.validate()?;
        Ok(config)
    }

    /// What `serve` needs beyond [`HubConfig::validate`]: on PostgreSQL,
    /// where replicas run side by side, a page-token secret they all share.
    pub fn validate_for_replicas(&self) -> anyhow::Result<()> {
        if self.database_url.expose().starts_with("postgres") {
            let length = self
                .page_token_secret
                .as_ref()
                .map_or(0, |s| s.expose().len());
            anyhow::ensure!(
                length >= MIN_SECRET_BYTES,
                "page_token_secret must be set to at least {MIN_SECRET_BYTES} bytes on PostgreSQL, \
                 the same on every replica (SPIL_PAGE_TOKEN_SECRET or SPIL_PAGE_TOKEN_SECRET_FILE)"
            );
        }
        Ok(())
    }

    /// The effective configuration as TOML, secrets redacted: a database
    /// URL keeps its scheme and host, never a password.
    pub fn redacted(&self) -> anyhow::Result<String> {
        let mut table =
            toml::Table::try_from(self).context("failed to encode the configuration")?;
        table.insert(
            "database_url".into(),
            toml::Value::String(redact_url(self.database_url.expose())),
        );
        if let Some(secret) = &self.page_token_secret {
            table.insert(
                "page_token_secret".into(),
                toml::Value::String(format!("(set, {} bytes)", secret.expose().len())),
            );
        }
        toml::to_string(&table).context("failed to print the configuration")
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, url) in [
            ("fhir_canonical_base", Some(&self.fhir_canonical_base)),
            ("fhir_base_url", self.fhir_base_url.as_ref()),
        ] {
            if let Some(url) = url {
                let host = url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"))
                    .and_then(|rest| rest.split(['/', ':']).next())
                    .filter(|host| !host.is_empty());
                anyhow::ensure!(
                    host.is_some(),
                    "{name} must be an absolute http(s) URL, not {url:?}"
                );
            }
        }
        anyhow::ensure!(
            self.database_pool_size >= 1,
            "database_pool_size must be at least 1"
        );
        anyhow::ensure!(
            self.database_statement_timeout_ms >= 100,
            "database_statement_timeout_ms must be at least 100"
        );
        anyhow::ensure!(
            self.crisis_bed_fresh_hours >= 1,
            "crisis_bed_fresh_hours must be at least 1"
        );
        anyhow::ensure!(
            self.other_fresh_days >= 1,
            "other_fresh_days must be at least 1"
        );
        anyhow::ensure!(
            self.hold_sweep_interval_ms >= 10,
            "hold_sweep_interval_ms must be at least 10"
        );
        anyhow::ensure!(
            self.change_log_retention_hours >= 1,
            "change_log_retention_hours must be at least 1"
        );
        anyhow::ensure!(self.watch_buffer >= 1, "watch_buffer must be at least 1");
        anyhow::ensure!(
            self.org_calls_per_second >= 1
                && self.org_call_burst >= 1
                && self.org_max_watches >= 1
                && self.max_tls_handshakes >= 1
                && self.max_in_flight >= 1
                && self.max_connections >= 1,
            "org_calls_per_second, org_call_burst, org_max_watches and max_tls_handshakes must be at least 1"
        );
        anyhow::ensure!(
            self.consultation_crisis_deadline_hours >= 1
                && self.consultation_urgent_deadline_days >= 1
                && self.consultation_routine_deadline_days >= 1,
            "consultation deadlines must be at least 1"
        );
        anyhow::ensure!(
            self.placement_crisis_answer_minutes >= 1
                && self.placement_urgent_answer_hours >= 1
                && self.placement_regular_answer_hours >= 1
                && (1..=10).contains(&self.placement_max_providers),
            "placement answer deadlines must be at least 1, and placement_max_providers 1 to 10"
        );
        anyhow::ensure!(
            self.consultation_retention_days >= 1,
            "consultation_retention_days must be at least 1"
        );
        Ok(())
    }

    pub fn freshness(&self) -> FreshnessPolicy {
        FreshnessPolicy {
            crisis_bed: chrono::Duration::hours(i64::from(self.crisis_bed_fresh_hours)),
            other: chrono::Duration::days(i64::from(self.other_fresh_days)),
        }
    }

    pub fn consultation_deadlines(&self) -> crate::domain::consultation::DeadlinePolicy {
        crate::domain::consultation::DeadlinePolicy {
            crisis: chrono::Duration::hours(i64::from(self.consultation_crisis_deadline_hours)),
            urgent: chrono::Duration::days(i64::from(self.consultation_urgent_deadline_days)),
            routine: chrono::Duration::days(i64::from(self.consultation_routine_deadline_days)),
        }
    }

    pub fn placement_policy(&self) -> crate::domain::placement::PlacementPolicy {
        crate::domain::placement::PlacementPolicy {
            crisis: chrono::Duration::minutes(i64::from(self.placement_crisis_answer_minutes)),
            urgent: chrono::Duration::hours(i64::from(self.placement_urgent_answer_hours)),
            regular: chrono::Duration::hours(i64::from(self.placement_regular_answer_hours)),
            max_providers: self.placement_max_providers as usize,
        }
    }

    pub fn consultation_retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.consultation_retention_days))
    }

    pub fn change_log_retention(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.change_log_retention_hours))
    }

    pub fn tls_reload_interval(&self) -> Duration {
        Duration::from_millis(self.tls_reload_interval_ms.max(10))
    }

    pub fn otlp_metrics_interval(&self) -> Duration {
        Duration::from_millis(self.otlp_metrics_interval_ms.max(100))
    }

    /// How the store connects: the database, its pool and its statement timeout.
    pub fn store_config(&self) -> crate::store::StoreConfig {
        crate::store::StoreConfig {
            database_url: self.database_url.expose().to_owned(),
            pool_size: self.database_pool_size,
            statement_timeout: Duration::from_millis(self.database_statement_timeout_ms),
        }
    }

    pub fn hold_sweep_interval(&self) -> Duration {
        Duration::from_millis(self.hold_sweep_interval_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }

    pub fn readiness_interval(&self) -> Duration {
        Duration::from_millis(self.readiness_interval_ms.max(100))
    }

    /// `None` when the check is off.
    pub fn max_clock_skew(&self) -> Option<Duration> {
        (self.max_clock_skew_ms > 0).then(|| Duration::from_millis(self.max_clock_skew_ms))
    }

    pub fn shutdown_drain(&self) -> Duration {
        Duration::from_millis(self.shutdown_drain_ms)
    }

    /// Resolves relative file paths against `base` (the demo's folder).
    pub fn with_paths_under(mut self, base: &Path) -> Self {
        let join = |p: &PathBuf| {
            if p.is_relative() {
                base.join(p)
            } else {
                p.clone()
            }
        };
        self.tls.server_cert = join(&self.tls.server_cert);
        self.tls.server_key = join(&self.tls.server_key);
        self.tls.client_ca = join(&self.tls.client_ca);
        self.tls.client_crls = self.tls.client_crls.iter().map(join).collect();
        self
    }
}

/// `postgres://user:password@host/db` as `postgres://user:***@host/db`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Whether `name=value` is a variable Kubernetes injects for a Service
/// (unless the pod says `enableServiceLinks: false`): for a Service `my-svc`,
/// `MY_SVC_SERVICE_HOST=10.0.0.11`, `MY_SVC_SERVICE_PORT[_<PORT NAME>]=50051`,
/// `MY_SVC_PORT=tcp://10.0.0.11:50051` and
/// `MY_SVC_PORT_50051_TCP[_PROTO|_PORT|_ADDR]`. Name and value must both
/// have the shape, so a typo of a setting is still refused.
fn is_service_link(name: &str, value: &str) -> bool {
    let is_ip = |v: &str| v.parse::<std::net::IpAddr>().is_ok();
    let is_port = |v: &str| v.parse::<u16>().is_ok_and(|p| p > 0);
    let is_url = |v: &str| {
        ["tcp://", "udp://", "sctp://"].iter().any(|scheme| {
            v.strip_prefix(scheme)
                .and_then(|rest| rest.parse::<SocketAddr>().ok())
                .is_some()
        })
    };
    let service_name = |prefix: &str| {
        !prefix.is_empty()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    if let Some(service) = name.strip_suffix("_SERVICE_HOST")
        && service_name(service)
        && is_ip(value)
    {
        return true;
    }
    if let Some((service, rest)) = name.split_once("_SERVICE_PORT")
        && service_name(service)
        && (rest.is_empty() || rest.strip_prefix('_').is_some_and(service_name))
        && is_port(value)
    {
        return true;
    }
    if let Some(service) = name.strip_suffix("_PORT")
        && service_name(service)
        && is_url(value)
    {
        return true;
    }
    // `<NAME>_PORT_<N>_<PROTO>` and its `_PROTO`, `_PORT` and `_ADDR`.
    let mut tokens: Vec<&str> = name.split('_').collect();
    let field = match tokens.last() {
        Some(&last @ ("PROTO" | "PORT" | "ADDR")) => {
            tokens.pop();
            Some(last)
        }
        _ => None,
    };
    let [
        service @ ..,
        "PORT",
        number,
        proto @ ("TCP" | "UDP" | "SCTP"),
    ] = tokens.as_slice()
    else {
        return false;
    };
    let value_fits = match field {
        None => is_url(value),
        Some("PROTO") => value.eq_ignore_ascii_case(proto),
        Some("PORT") => is_port(value) && value == *number,
        Some(_) => is_ip(value),
    };
    service_name(&service.join("_")) && is_port(number) && value_fits
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(overlay)) => merge(inner, overlay),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Sets one (possibly nested) key from an environment string, typed like the
/// default it replaces.
fn set_path(table: &mut toml::Table, path: &[String], raw: &str) -> anyhow::Result<()> {
    let (last, parents) = path.split_last().context("empty key")?;
    let mut current = table;
    for part in parents {
        current = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("{part} is not a section"))?;
    }
    let value = match current.get(last) {
        Some(toml::Value::Integer(_)) => {
            toml::Value::Integer(raw.parse().context("expected an integer")?)
        }
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(raw.parse().context("expected true or false")?)
        }
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_owned()),
    };
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_unknown_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("spil-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hub.toml");
        std::fs::write(
            &file,
            "database_url = \"postgres://db/spil\"\n[tls]\nclient_ca = \"ca.pem\"\n",
        )
        .unwrap();
        let config = HubConfig::load_from(Some(&file), []).unwrap();
        assert_eq!(config.database_url.expose(), "postgres://db/spil");
        assert_eq!(config.tls.client_ca, PathBuf::from("ca.pem"));
        assert_eq!(config.tls.server_cert, PathBuf::from("pki/server.pem"));

        std::fs::write(&file, "databse_url = \"typo\"\n").unwrap();
        assert!(HubConfig::load_from(Some(&file), []).is_err());
    }

    #[test]
    fn the_environment_overrides_the_file_and_client_variables_are_ignored() {
        let vars = [
            ("SPIL_DATABASE_URL", "postgres://env/spil"),
            ("SPIL_TLS__CLIENT_CA", "/etc/ca.pem"),
            ("SPIL_WATCH_BUFFER", "8"),
            ("SPIL_HUB", "https://localhost:50051"),
            ("SPIL_PERSON", "J. de Vries"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let config = HubConfig::load_from(None, vars).unwrap();
        assert_eq!(config.database_url.expose(), "postgres://env/spil");
        assert_eq!(config.tls.client_ca, PathBuf::from("/etc/ca.pem"));
        assert_eq!(config.watch_buffer, 8);
        let bad = [("SPIL_WATCH_BUFFER".to_owned(), "many".to_owned())];
        assert!(HubConfig::load_from(None, bad).is_err());
    }

    #[test]
    fn kubernetes_service_links_are_tolerated_and_typos_are_not() {
        // What a Service named `spil-hub` with ports grpc 50051 and fhir 8443 injects.
        let links = [
            ("SPIL_HUB_SERVICE_HOST", "10.96.0.12"),
            ("SPIL_HUB_SERVICE_PORT", "50051"),
            ("SPIL_HUB_SERVICE_PORT_GRPC", "50051"),
            ("SPIL_HUB_SERVICE_PORT_FHIR", "8443"),
            ("SPIL_HUB_PORT", "tcp://10.96.0.12:50051"),
            ("SPIL_HUB_PORT_50051_TCP", "tcp://10.96.0.12:50051"),
            ("SPIL_HUB_PORT_50051_TCP_PROTO", "tcp"),
            ("SPIL_HUB_PORT_50051_TCP_PORT", "50051"),
            ("SPIL_HUB_PORT_50051_TCP_ADDR", "10.96.0.12"),
            ("SPIL_HUB_PORT_8443_TCP_ADDR", "fd00::12"),
            // A Service named `spil` itself.
            ("SPIL_SERVICE_HOST", "10.96.0.13"),
            ("SPIL_PORT", "tcp://10.96.0.13:50051"),
        ];
        let vars = links.map(|(k, v)| (k.to_owned(), v.to_owned()));
        let config = HubConfig::load_from(None, vars).unwrap();
        assert_eq!(config.platform_variables.len(), links.len());

        // Typos and wrong shapes are refused, whatever their name ends with.
        for (name, value) in [
            ("SPIL_WATCH_BUFER", "8"),
            ("SPIL_HUB_SERVICE_HOST", "spil-hub.default.svc"),
            ("SPIL_HUB_SERVICE_PORT", "grpc"),
            ("SPIL_HUB_PORT", "50051"),
            ("SPIL_ADMIN_PORT", "8081"),
            ("SPIL_HUB_PORT_50051_TCP_PORT", "50052"),
            ("SPIL_HUB_PORT_50051_TCP_ADDR", "localhost"),
            ("SPIL_HUB_PORT_50051_HTTP", "tcp://10.96.0.12:50051"),
            ("SPIL_HUB_PORT_GRPC_TCP_ADDR", "10.96.0.12"),
            ("SPIL_hub_SERVICE_HOST", "10.96.0.12"),
        ] {
            let vars = [(name.to_owned(), value.to_owned())];
            let error = HubConfig::load_from(None, vars)
                .err()
                .unwrap_or_else(|| panic!("{name}={value} was accepted"));
            assert!(format!("{error:#}").contains(name), "{error:#}");
        }
        // A real setting is still a setting, not a link.
        let vars = [("SPIL_WATCH_BUFFER".to_owned(), "8".to_owned())];
        assert_eq!(HubConfig::load_from(None, vars).unwrap().watch_buffer, 8);
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(…)");
        let config = HubConfig {
            database_url: Secret::new("postgres://spil:hunter2@db.internal:5432/spil"),
            page_token_secret: Some(Secret::new("x".repeat(40))),
            ..HubConfig::default()
        };
        let printed = config.redacted().unwrap();
        assert!(!printed.contains("hunter2") && !printed.contains(&"x".repeat(40)));
        assert!(printed.contains("postgres://spil:***@db.internal:5432/spil"));
        assert!(printed.contains("(set, 40 bytes)"));
    }

    #[test]
    fn an_unknown_variable_is_an_error_and_secrets_come_from_files() {
        let typo = [("SPIL_WATCH_BUFER".to_owned(), "8".to_owned())];
        let error = HubConfig::load_from(None, typo).unwrap_err();
        assert!(format!("{error:#}").contains("SPIL_WATCH_BUFER"));

        let dir = std::env::temp_dir().join(format!("spil-secret-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, format!("{}\n", "s".repeat(48))).unwrap();
        let vars = [(
            "SPIL_PAGE_TOKEN_SECRET_FILE".to_owned(),
            file.display().to_string(),
        )];
        let config = HubConfig::load_from(None, vars).unwrap();
        assert_eq!(config.page_token_secret.unwrap().expose(), "s".repeat(48));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn replicas_on_postgresql_need_a_shared_secret() {
        let mut config = HubConfig {
            database_url: Secret::new("postgres://db/spil"),
            ..HubConfig::default()
        };
        assert!(config.validate_for_replicas().is_err());
        config.page_token_secret = Some(Secret::new("short"));
        assert!(config.validate_for_replicas().is_err());
        config.page_token_secret = Some(Secret::new("k".repeat(MIN_SECRET_BYTES)));
        assert!(config.validate_for_replicas().is_ok());
        let embedded = HubConfig::default();
        assert!(embedded.validate_for_replicas().is_ok());
    }
}
