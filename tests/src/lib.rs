//! The test harness: a real hub on port 0, with certificates made at test
//! time (a server CA and a client CA), a fresh database (an SQLite file, or
//! a uniquely named PostgreSQL database that is dropped afterwards), a
//! manual clock, and typed clients acting as any demo organisation.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database};
use spil_client::{Identity, SpilClient};
use spil_hub::clock::ManualClock;
use spil_hub::config::HubConfig;
use spil_hub::domain::identity::OrgId;
use spil_hub::pki::{CertificateAuthority, IssuedCertificate, Validity};
use spil_hub::startup::Hub;
use spil_hub::tls::TlsFiles;
use std::path::PathBuf;
use std::sync::Arc;

pub use spil_client::pb;

/// Which database a test hub runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for tests, when one is configured.
pub fn postgres_url() -> Option<String> {
    #[allow(clippy::disallowed_methods)] // tests choose their backend from the environment
    std::env::var("SPIL_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// PostgreSQL when `SPIL_TEST_DATABASE_URL` is set, else SQLite.
pub fn default_backend() -> Backend {
    if postgres_url().is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// The backends to run a store-level test on: SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if postgres_url().is_some() {
        all.push(Backend::Postgres);
    }
    all
}

/// Where the test clock starts: a fixed moment, so expiry arithmetic is exact.
pub fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T21:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub struct TestHub {
    hub: Option<Hub>,
    pub clock: ManualClock,
    pub dir: PathBuf,
    pub server_ca_pem: String,
    pub client_ca: CertificateAuthority,
    /// A client certificate for `kenter` that the CRL revokes.
    pub revoked: IssuedCertificate,
    database: TestDatabase,
    config: HubConfig,
}

/// The database behind a test hub, and how to get rid of it.
struct TestDatabase {
    url: String,
    /// For PostgreSQL: the server URL and the database name to drop.
    postgres: Option<(String, String)>,
}

impl TestHub {
    /// A hub on PostgreSQL when `SPIL_TEST_DATABASE_URL` is set, else on SQLite:
    /// the same suite runs on both backends.
    pub async fn spawn() -> Self {
        Self::spawn_on(default_backend()).await
    }

    pub async fn spawn_on(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a hub on `backend`, letting the test adjust the configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut HubConfig)) -> Self {
        let dir = std::env::temp_dir().join(format!("spil-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();

        let server_ca = CertificateAuthority::generate("test server CA").unwrap();
        let server = server_ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
        let client_ca = CertificateAuthority::generate("test client CA").unwrap();
        let kenter = OrgId::parse("kenter").unwrap();
        let revoked = client_ca
            .issue_client(&kenter, Validity::days_from_now(30))
            .unwrap();
        let crl = client_ca
            .revocation_list(std::slice::from_ref(&revoked.serial))
            .unwrap();
        let write = |name: &str, contents: &str| {
            let path = dir.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        };
        let tls = TlsFiles {
            server_cert: write("server.pem", &server.cert_pem),
            server_key: write("server-key.pem", &server.key_pem),
            client_ca: write("client-ca.pem", &client_ca.cert_pem()),
            client_crls: vec![write("client-ca.crl.pem", &crl)],
        };

        let database = match backend {
            Backend::Sqlite => TestDatabase {
                url: format!("sqlite://{}", dir.join("spil.sqlite").display()),
                postgres: None,
            },
            Backend::Postgres => {
                let server =
                    postgres_url().expect("SPIL_TEST_DATABASE_URL is set for PostgreSQL tests");
                let name = format!("spil_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&server).await.unwrap();
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let base = server
                    .rsplit_once('/')
                    .map_or(server.as_str(), |(base, _)| base);
                TestDatabase {
                    url: format!("{base}/{name}"),
                    postgres: Some((server.clone(), name)),
                }
            }
        };

        let mut config = HubConfig {
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: spil_hub::config::Secret::new(database.url.clone()),
            // Replicas of one test hub share it, as production's must.
            page_token_secret: Some(spil_hub::config::Secret::new(
                uuid::Uuid::new_v4().simple().to_string(),
            )),
            tls,
            hold_sweep_interval_ms: 50,
            // The manual clock stands still at a moment in the past.
            max_clock_skew_ms: 0,
            tls_reload_interval_ms: 50,
            shutdown_grace_ms: 2000,
            ..HubConfig::default()
        };
        adjust(&mut config);
        let clock = ManualClock::starting_at(epoch());
        let hub = Hub::build(config.clone(), Arc::new(clock.clone()))
            .await
            .unwrap();
        spil_hub::demo::seed_directory(hub.app()).await.unwrap();
        Self {
            hub: Some(hub),
            clock,
            dir,
            server_ca_pem: server_ca.cert_pem(),
            client_ca,
            revoked,
            database,
            config,
        }
    }

    pub fn hub(&self) -> &Hub {
        self.hub.as_ref().expect("hub is running")
    }

    /// On PostgreSQL: the server's URL and the name of this hub's database.
    pub fn postgres_database(&self) -> Option<(&str, &str)> {
        self.database
            .postgres
            .as_ref()
            .map(|(server, name)| (server.as_str(), name.as_str()))
    }

    /// The hub's database, for tests that tamper with stored rows.
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    pub fn address(&self) -> String {
        format!("https://localhost:{}", self.hub().local_addr().port())
    }

    /// A certificate for `org` from the hub's client CA, valid now.
    pub fn identity(&self, org: &str) -> Identity {
        self.certificate(org).1
    }

    /// A certificate for `org` with its serial number, to revoke it later.
    pub fn certificate(&self, org: &str) -> (rcgen::SerialNumber, Identity) {
        let cert = self
            .client_ca
            .issue_client(&OrgId::parse(org).unwrap(), Validity::days_from_now(30))
            .unwrap();
        let identity = Identity {
            cert_pem: cert.cert_pem,
            key_pem: cert.key_pem,
        };
        (cert.serial, identity)
    }

    /// Connects with any identity, or none.
    pub async fn connect(
        &self,
        identity: Option<Identity>,
    ) -> Result<SpilClient, spil_client::ClientError> {
        SpilClient::connect(&self.address(), &self.server_ca_pem, identity).await
    }

    /// A client acting as one of the demo organisations.
    pub async fn client_as(&self, org: &str) -> SpilClient {
        self.connect(Some(self.identity(org))).await.unwrap()
    }

    /// The provider Kenter, with its location `kenter-haarlem` in Haarlem.
    pub async fn kenter_with_location(&self) -> SpilClient {
        let kenter = self.client_as("kenter").await;
        kenter
            .capacity()
            .upsert_location(fixtures::location("kenter-haarlem", "GM0392"))
            .await
            .unwrap();
        kenter
    }

    /// Another hub on the same database, as a second replica behind one address.
    pub async fn spawn_replica(&self) -> Hub {
        Hub::build(self.config.clone(), Arc::new(self.clock.clone()))
            .await
            .unwrap()
    }

    /// A client of `replica` acting as `org`.
    pub async fn client_at(&self, replica: &Hub, org: &str) -> SpilClient {
        let address = format!("https://localhost:{}", replica.local_addr().port());
        SpilClient::connect(&address, &self.server_ca_pem, Some(self.identity(org)))
            .await
            .unwrap()
    }

    /// Revokes certificates by replacing the hub's CRL file.
    pub fn revoke(&self, serials: &[rcgen::SerialNumber]) {
        let crl = self.client_ca.revocation_list(serials).unwrap();
        std::fs::write(&self.config.tls.client_crls[0], crl).unwrap();
    }

    /// Stops the hub and starts a new one on the same database and files,
    /// as after a crash or a deploy.
    pub async fn restart(&mut self) {
        if let Some(hub) = self.hub.take() {
            hub.stop().await.unwrap();
        }
        let hub = Hub::build(self.config.clone(), Arc::new(self.clock.clone()))
            .await
            .unwrap();
        self.hub = Some(hub);
    }

    /// Stops the hub and removes its database.
    pub async fn stop(mut self) {
        if let Some(hub) = self.hub.take() {
            hub.stop().await.unwrap();
        }
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((server, name)) = self.database.postgres.take() {
            // Drop runs outside any runtime we may block: use a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    if let Ok(admin) = Database::connect(&server).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Location, offering and consultation helpers shared by the tests.
pub mod fixtures {
    use super::pb;

    /// A routine advice question from a crisis service, with consent.
    pub fn consultation(request_id: &str, addressee: &str) -> pb::FileConsultationRequest {
        pb::FileConsultationRequest {
            request_id: request_id.into(),
            addressee_id: addressee.into(),
            case_reference: format!("CASE-{request_id}"),
            age_years: 15,
            municipality_code: "GM0392".into(),
            problem_domains: vec![
                pb::ProblemDomain::MentalHealth as i32,
                pb::ProblemDomain::Trauma as i32,
            ],
            question_type: pb::QuestionType::Advice as i32,
            urgency: pb::Urgency::Routine as i32,
            question: "Meisje van 15, derde crisisopname dit jaar; welke behandelrichting?".into(),
            consent_recorded: true,
        }
    }

    pub fn location(id: &str, municipality: &str) -> pb::UpsertLocationRequest {
        pb::UpsertLocationRequest {
            location: Some(pb::Location {
                id: id.into(),
                name: format!("Locatie {id}"),
                municipality_code: municipality.into(),
                ..Default::default()
            }),
        }
    }

    pub fn crisis_key(location: &str) -> pb::OfferingKey {
        pb::OfferingKey {
            location_id: location.into(),
            place_type: pb::PlaceType::CrisisBed as i32,
            care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
            age_band: Some(pb::AgeBand {
                min_age: 12,
                max_age: 17,
            }),
            gender_policy: pb::GenderPolicy::Any as i32,
            security_level: pb::SecurityLevel::Open as i32,
        }
    }

    pub fn update(key: pb::OfferingKey, total: u32, free: u32) -> pb::OfferingUpdate {
        pb::OfferingUpdate {
            key: Some(key),
            intake: pb::Intake::AroundTheClock as i32,
            lead_time_days: 0,
            total_places: total,
            free_places: free,
            waiting_days: 0,
            observed_at: None,
        }
    }

    pub fn publish(
        request_id: &str,
        updates: Vec<pb::OfferingUpdate>,
    ) -> pb::PublishCapacityRequest {
        pb::PublishCapacityRequest {
            request_id: request_id.into(),
            updates,
        }
    }

    /// Publishes one crisis-bed offering at `location` and returns its id.
    pub async fn crisis_bed_offering(
        provider: &spil_client::SpilClient,
        location: &str,
        total: u32,
        free: u32,
    ) -> String {
        provider
            .capacity()
            .publish_capacity(publish(
                &uuid::Uuid::new_v4().to_string(),
                vec![update(crisis_key(location), total, free)],
            ))
            .await
            .unwrap()
            .into_inner()
            .offerings
            .remove(0)
            .id
    }

    /// Holds a place and expects it granted.
    pub async fn hold_granted(
        client: &spil_client::SpilClient,
        request_id: &str,
        offering_id: &str,
    ) -> pb::Hold {
        client
            .capacity()
            .hold_place(hold(request_id, offering_id))
            .await
            .unwrap()
            .into_inner()
            .hold
            .unwrap()
    }

    pub fn hold(request_id: &str, offering_id: &str) -> pb::HoldPlaceRequest {
        pb::HoldPlaceRequest {
            request_id: request_id.into(),
            offering_id: offering_id.into(),
            child_municipality_code: "GM0392".into(),
            duration: None,
        }
    }

    /// A crisis-bed search for a 15-year-old from Haarlem.
    pub fn crisis_search() -> pb::SearchPlacesRequest {
        pb::SearchPlacesRequest {
            place_types: vec![pb::PlaceType::CrisisBed as i32],
            child_age: Some(15),
            child_municipality_code: "GM0392".into(),
            ..Default::default()
        }
    }
}
