//! Development certificates: a server CA, a client CA, the hub's server
//! certificate and one client certificate per organisation, made with rcgen.
//!
//! For demos and tests only. Production certificates come from the
//! operator's own PKI; the hub only needs their PEM files and a CRL.

use crate::domain::identity::OrgId;
use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// A certificate authority that can issue and revoke.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

/// A certificate with its private key, both PEM.
#[derive(Clone)]
pub struct IssuedCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    pub serial: SerialNumber,
}

/// The validity window of a certificate to issue.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From an hour ago (tolerating clock skew) for `days` days.
    pub fn days_from_now(days: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(days),
        }
    }
}

impl CertificateAuthority {
    pub fn generate(common_name: &str) -> anyhow::Result<Self> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let validity = Validity::days_from_now(3650);
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let key = KeyPair::generate().context("failed to generate a CA key")?;
        let cert = params
            .self_signed(&key)
            .context("failed to self-sign a CA")?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
        })
    }

    /// Loads a CA written by [`CertificateAuthority::write`].
    pub fn load(cert_pem: &str, key_pem: &str) -> anyhow::Result<Self> {
        let key = KeyPair::from_pem(key_pem).context("failed to parse the CA key")?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .context("failed to parse the CA certificate")?;
        Ok(Self {
            issuer,
            cert_pem: cert_pem.to_owned(),
        })
    }

    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A server certificate for the given DNS names and IP addresses.
    pub fn issue_server(&self, names: &[&str]) -> anyhow::Result<IssuedCertificate> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .context("invalid server name")?;
        params.distinguished_name = name("spil-hub");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, Validity::days_from_now(825))
    }

    /// A client certificate naming `org` by its SPIFFE id.
    pub fn issue_client(
        &self,
        org: &OrgId,
        validity: Validity,
    ) -> anyhow::Result<IssuedCertificate> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(org.as_str());
        params.subject_alt_names = vec![SanType::URI(
            org.spiffe_id().try_into().context("invalid SPIFFE id")?,
        )];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, validity)
    }

    fn issue(
        &self,
        mut params: CertificateParams,
        validity: Validity,
    ) -> anyhow::Result<IssuedCertificate> {
        let serial = SerialNumber::from_slice(uuid::Uuid::new_v4().as_bytes());
        params.serial_number = Some(serial.clone());
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().context("failed to generate a key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("failed to sign a certificate")?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial,
        })
    }

    /// A certificate revocation list naming the given serial numbers.
    pub fn revocation_list(&self, revoked: &[SerialNumber]) -> anyhow::Result<String> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::hours(1),
            next_update: now + Duration::days(30),
            crl_number: SerialNumber::from(u64::try_from(now.unix_timestamp()).unwrap_or(1)),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: serial.clone(),
                    revocation_time: now - Duration::minutes(1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.issuer)
            .context("failed to sign a CRL")?;
        crl.pem().context("failed to encode a CRL")
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Spil");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Where `spil-hub pki init` writes its files, relative to one directory.
#[derive(Debug, Clone)]
pub struct PkiLayout {
    pub dir: PathBuf,
}

impl PkiLayout {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    pub fn server_ca(&self) -> PathBuf {
        self.dir.join("server-ca.pem")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server-key.pem")
    }
    pub fn client_ca(&self) -> PathBuf {
        self.dir.join("client-ca.pem")
    }
    pub fn client_ca_key(&self) -> PathBuf {
        self.dir.join("client-ca-key.pem")
    }
    pub fn client_crl(&self) -> PathBuf {
        self.dir.join("client-ca.crl.pem")
    }
    pub fn org_cert(&self, org: &OrgId) -> PathBuf {
        self.dir.join("orgs").join(format!("{org}.pem"))
    }
    pub fn org_key(&self, org: &OrgId) -> PathBuf {
        self.dir.join("orgs").join(format!("{org}-key.pem"))
    }
}

/// Creates a development PKI: both CAs, a server certificate for
/// `localhost`/`127.0.0.1`, an empty CRL and one client certificate per
/// organisation. Existing files are kept, so a second run changes nothing.
pub fn init_dev_pki(layout: &PkiLayout, orgs: &[OrgId]) -> anyhow::Result<()> {
    std::fs::create_dir_all(layout.dir.join("orgs"))
        .with_context(|| format!("failed to create {}", layout.dir.display()))?;
    if !layout.server_cert().exists() {
        let server_ca = CertificateAuthority::generate("Spil development server CA")?;
        let server = server_ca.issue_server(&["localhost", "127.0.0.1", "::1"])?;
        write(&layout.server_ca(), &server_ca.cert_pem())?;
        write(&layout.server_cert(), &server.cert_pem)?;
        write(&layout.server_key(), &server.key_pem)?;
    }
    let client_ca = if layout.client_ca_key().exists() {
        CertificateAuthority::load(&read(&layout.client_ca())?, &read(&layout.client_ca_key())?)?
    } else {
        let ca = CertificateAuthority::generate("Spil development client CA")?;
        write(&layout.client_ca(), &ca.cert_pem())?;
        write(&layout.client_ca_key(), &ca.key_pem())?;
        write(&layout.client_crl(), &ca.revocation_list(&[])?)?;
        ca
    };
    for org in orgs {
        if !layout.org_cert(org).exists() {
            let cert = client_ca.issue_client(org, Validity::days_from_now(365))?;
            write(&layout.org_cert(org), &cert.cert_pem)?;
            write(&layout.org_key(org), &cert.key_pem)?;
        }
    }
    Ok(())
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("failed to write {}", path.display()))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))
}
