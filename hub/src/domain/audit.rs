//! The audit trail's tamper evidence (NEN 7513 in spirit): every record
//! carries the hash of the one before it, so an altered, deleted or
//! reordered record breaks the chain at a place that can be named.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// What was done with consultation content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Create,
    Read,
    Update,
    Erase,
}

impl AuditAction {
    pub const ALL: [AuditAction; 4] = [
        AuditAction::Create,
        AuditAction::Read,
        AuditAction::Update,
        AuditAction::Erase,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    Allowed,
    /// Refused for who asked: no role, not a party, no person named.
    Denied,
    /// Refused for what was asked: invalid input or an illegal transition.
    Rejected,
}

impl AuditOutcome {
    pub const ALL: [AuditOutcome; 3] = [
        AuditOutcome::Allowed,
        AuditOutcome::Denied,
        AuditOutcome::Rejected,
    ];
}

/// One audit record's content: who, what, when, from which connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the trail, from 1 without gaps.
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub event_type: String,
    pub organisation: String,
    /// The person's name or staff id, as sent in request metadata.
    pub person: String,
    pub certificate_identity: String,
    pub consultation_id: Option<String>,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
}

pub type Hash = [u8; 32];

/// The hash the first record links to.
pub const GENESIS: Hash = [0; 32];

/// A record in the chain: its entry, the previous record's hash, its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub entry: AuditEntry,
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl ChainLink {
    /// Appends `entry` after the record whose hash is `prev_hash`.
    pub fn after(prev_hash: Hash, entry: AuditEntry) -> Self {
        let hash = link_hash(&prev_hash, &entry);
        Self {
            entry,
            prev_hash,
            hash,
        }
    }
}

/// SHA-256 over the previous hash and every field, each length-prefixed so
/// that no two different entries encode alike.
pub fn link_hash(prev_hash: &Hash, entry: &AuditEntry) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(&entry.seq.to_be_bytes());
    field(&entry.at.timestamp_micros().to_be_bytes());
    field(entry.event_type.as_bytes());
    field(entry.organisation.as_bytes());
    field(entry.person.as_bytes());
    field(entry.certificate_identity.as_bytes());
    field(entry.consultation_id.as_deref().unwrap_or("").as_bytes());
    field(&[entry.consultation_id.is_some() as u8]);
    field(format!("{:?}", entry.action).as_bytes());
    field(format!("{:?}", entry.outcome).as_bytes());
    hasher.finalize().into()
}

/// Where the chain first stops proving itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BrokenLink {
    #[error("record {seq} was altered: its hash does not match its content")]
    Altered { seq: u64 },
    #[error("record {seq} does not link to the record before it")]
    Unlinked { seq: u64 },
    #[error("record {found} stands where record {expected} should be (deleted or reordered)")]
    OutOfSequence { expected: u64, found: u64 },
    #[error("record {seq} is dated before the record before it")]
    TimeReversed { seq: u64 },
}

/// Checks a trail record by record from its first, so that a long trail
/// can be read a page at a time.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev: Hash,
    prev_at: Option<DateTime<Utc>>,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            prev: GENESIS,
            prev_at: None,
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// The next record in stored order.
    pub fn check(&mut self, link: &ChainLink) -> Result<(), BrokenLink> {
        let expected = self.checked + 1;
        if link.entry.seq != expected {
            return Err(BrokenLink::OutOfSequence {
                expected,
                found: link.entry.seq,
            });
        }
        if link.prev_hash != self.prev {
            return Err(BrokenLink::Unlinked {
                seq: link.entry.seq,
            });
        }
        if link.hash != link_hash(&link.prev_hash, &link.entry) {
            return Err(BrokenLink::Altered {
                seq: link.entry.seq,
            });
        }
        // The store dates records in sequence order; one dated earlier than
        // its predecessor was written by something else.
        if self.prev_at.is_some_and(|prev| link.entry.at < prev) {
            return Err(BrokenLink::TimeReversed {
                seq: link.entry.seq,
            });
        }
        self.prev_at = Some(link.entry.at);
        self.prev = link.hash;
        self.checked = expected;
        Ok(())
    }

    /// Records that verified so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }
}

/// Checks a whole trail from its first record.
pub fn verify(chain: &[ChainLink]) -> Result<(), BrokenLink> {
    let mut verifier = ChainVerifier::default();
    chain.iter().try_for_each(|link| verifier.check(link))
}

/// Which audit records a list call wants.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub consultation_id: Option<String>,
    pub organisation: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<ChainLink> {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let link = ChainLink::after(
                    prev,
                    AuditEntry {
                        seq,
                        at: start + chrono::Duration::seconds(seq as i64),
                        event_type: "consultation.read".into(),
                        organisation: "ret-zkh-ijmond".into(),
                        person: "J. de Vries".into(),
                        certificate_identity: "spiffe://spil.local/org/ret-zkh-ijmond".into(),
                        consultation_id: Some(format!("c{seq}")),
                        action: AuditAction::Read,
                        outcome: AuditOutcome::Allowed,
                    },
                );
                prev = link.hash;
                link
            })
            .collect()
    }

    #[test]
    fn a_record_dated_before_its_predecessor_is_named() {
        // Rebuilt with valid hashes, so only the time gives it away.
        let mut entries: Vec<AuditEntry> = chain(4).into_iter().map(|l| l.entry).collect();
        entries[2].at = entries[1].at - chrono::Duration::hours(100);
        let mut prev = GENESIS;
        let links: Vec<ChainLink> = entries
            .into_iter()
            .map(|entry| {
                let link = ChainLink::after(prev, entry);
                prev = link.hash;
                link
            })
            .collect();
        assert_eq!(verify(&links), Err(BrokenLink::TimeReversed { seq: 3 }));
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
        assert_eq!(verify(&[]), Ok(()));
    }

    #[test]
    fn an_altered_record_is_named() {
        let mut links = chain(5);
        links[2].entry.person = "someone else".into();
        assert_eq!(verify(&links), Err(BrokenLink::Altered { seq: 3 }));
    }

    #[test]
    fn a_deleted_record_is_named() {
        let mut links = chain(5);
        links.remove(1);
        assert_eq!(
            verify(&links),
            Err(BrokenLink::OutOfSequence {
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn reordered_records_are_named() {
        let mut links = chain(5);
        links.swap(1, 2);
        assert_eq!(
            verify(&links),
            Err(BrokenLink::OutOfSequence {
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn a_rewritten_record_with_a_fresh_hash_breaks_the_next_link() {
        let mut links = chain(5);
        links[1].entry.outcome = AuditOutcome::Denied;
        links[1].hash = link_hash(&links[1].prev_hash, &links[1].entry);
        assert_eq!(verify(&links), Err(BrokenLink::Unlinked { seq: 3 }));
    }
}
