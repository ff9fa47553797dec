//! Micro-benchmarks of the hot pure functions, each beside a baseline that
//! does the same amount of plain work, so the figure to read is the ratio:
//! availability arithmetic, search ranking, the BSN check, audit hashing.

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use spil_hub::domain::audit::{AuditAction, AuditEntry, AuditOutcome, ChainLink, GENESIS, verify};
use spil_hub::domain::capacity::{
    AgeBand, CareProfile, CareProfiles, ChildAge, Coordinates, Freshness, FreshnessPolicy,
    GenderPolicy, Intake, Location, LocationId, MunicipalityCode, Offering, OfferingKey,
    PlaceCounts, PlaceType, Revision, SecurityLevel, available_places,
};
use spil_hub::domain::identity::OrgId;
use spil_hub::domain::privacy::contains_bsn;
use spil_hub::domain::search::{SearchFilter, rank, rank_page};
use std::hint::black_box;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("valid time")
}

/// Ten thousand offerings spread over places, types and freshness, as the load tool seeds them.
fn offerings() -> Vec<Offering> {
    let types = [
        PlaceType::CrisisBed,
        PlaceType::ResidentialGroup,
        PlaceType::FamilyHome,
        PlaceType::SecureResidential,
        PlaceType::ClinicalMentalHealth,
    ];
    (0..10_000u32)
        .map(|i| {
            let location = LocationId::parse(&format!("bench-{:05}", i / 5)).expect("valid id");
            Offering {
                id: format!("offering-{i:05}"),
                key: OfferingKey {
                    location_id: location.clone(),
                    place_type: types[i as usize % types.len()],
                    care_profiles: CareProfiles::from_profiles([CareProfile::ALL[i as usize % 5]]),
                    age_band: AgeBand::new(if i % 2 == 0 { 12 } else { 4 }, 17).expect("valid"),
                    gender_policy: GenderPolicy::Any,
                    security_level: SecurityLevel::Open,
                },
                intake: Intake::AroundTheClock,
                lead_time_days: 0,
                counts: PlaceCounts::new(4, i % 3).expect("valid"),
                waiting_days: i % 40,
                observed_at: now() - Duration::minutes(i64::from(i % 3000)),
                published_at: now() - Duration::minutes(i64::from(i % 3000)),
                revision: Revision(u64::from(i)),
                holds_until: if i % 7 == 0 {
                    vec![now() + Duration::minutes(10)]
                } else {
                    vec![]
                },
                placed: 0,
                location: Location {
                    id: location,
                    provider_id: OrgId::parse("kenter").expect("valid"),
                    name: format!("Bench locatie {i}"),
                    municipality: MunicipalityCode::parse("GM0392").expect("valid"),
                    region_id: ["zuid-kennemerland", "ijmond", "haaglanden"][i as usize % 3].into(),
                    coordinates: Coordinates::new(52.0 + f64::from(i % 100) / 100.0, 4.5).ok(),
                    intake_phone: None,
                },
            }
        })
        .collect()
}

fn availability(c: &mut Criterion) {
    let inputs: Vec<(u32, u32, u32, Freshness)> = (0..1024u32)
        .map(|i| {
            (
                i % 9,
                i % 3,
                i % 2,
                if i % 5 == 0 {
                    Freshness::Stale
                } else {
                    Freshness::Fresh
                },
            )
        })
        .collect();
    let mut group = c.benchmark_group("availability");
    group.bench_function("available_places x1024", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|(free, held, placed, freshness)| {
                    available_places(black_box(*free), *held, *placed, *freshness)
                })
                .sum::<u32>()
        })
    });
    group.bench_function("baseline: plain sum x1024", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|(free, held, placed, _)| black_box(*free) + held + placed)
                .sum::<u32>()
        })
    });
    group.finish();
}

fn ranking(c: &mut Criterion) {
    let all = offerings();
    let policy = FreshnessPolicy {
        crisis_bed: Duration::hours(12),
        other: Duration::days(7),
    };
    let filter = SearchFilter {
        place_types: vec![],
        care_profiles: CareProfiles::default(),
        child_age: ChildAge::parse(14).ok(),
        child_gender: None,
        security_level: None,
        region_ids: vec!["zuid-kennemerland".into()],
        municipalities: vec![],
        child_municipality: None,
        min_available: 0,
        include_unavailable: true,
    };
    let home = Coordinates::new(52.38, 4.64).ok();
    let mut group = c.benchmark_group("search");
    group.bench_function("rank 10k offerings, one region", |b| {
        b.iter(|| rank(black_box(&all), &filter, &policy, now(), home).len())
    });
    group.bench_function("rank_page: first 50 of 10k offerings, one region", |b| {
        b.iter(|| rank_page(black_box(&all), &filter, &policy, now(), home, 0, 50).total)
    });
    let keys: Vec<(u32, i64, String)> = all
        .iter()
        .map(|o| (o.counts.free(), o.observed_at.timestamp(), o.id.clone()))
        .collect();
    group.bench_function("baseline: sort 10k tuples", |b| {
        b.iter(|| {
            let mut sorted = keys.clone();
            sorted.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
            sorted.len()
        })
    });
    group.finish();
}

fn bsn(c: &mut Criterion) {
    let text =
        "Meisje van 15, derde crisisopname dit jaar. Dossier 123456789, telefoon 0612345678, \
                postcode 2011 AB, 12 kinderen op de groep, opname 2024-03-14. "
            .repeat(10);
    assert!(!contains_bsn(&text));
    let mut group = c.benchmark_group("privacy");
    group.bench_function(format!("contains_bsn, {} chars", text.len()), |b| {
        b.iter(|| contains_bsn(black_box(&text)))
    });
    group.bench_function("baseline: count digits", |b| {
        b.iter(|| black_box(&text).bytes().filter(u8::is_ascii_digit).count())
    });
    group.finish();
}

fn entry(seq: u64) -> AuditEntry {
    AuditEntry {
        seq,
        at: now(),
        event_type: "consultation.get".into(),
        organisation: "ret-zkh-ijmond".into(),
        person: "J. de Vries".into(),
        certificate_identity: "spiffe://spil.local/org/ret-zkh-ijmond".into(),
        consultation_id: Some("01890000-0000-7000-8000-000000000000".into()),
        action: AuditAction::Read,
        outcome: AuditOutcome::Allowed,
    }
}

fn audit(c: &mut Criterion) {
    let mut prev = GENESIS;
    let chain: Vec<ChainLink> = (1..=1000)
        .map(|seq| {
            let link = ChainLink::after(prev, entry(seq));
            prev = link.hash;
            link
        })
        .collect();
    let raw: Vec<u8> = format!("{:?}", entry(1)).into_bytes();
    let mut group = c.benchmark_group("audit");
    group.bench_function("append one link", |b| {
        b.iter(|| ChainLink::after(black_box(GENESIS), entry(7)).hash)
    });
    group.bench_function("baseline: sha256 of the record's bytes", |b| {
        b.iter(|| <[u8; 32]>::from(Sha256::digest(black_box(&raw))))
    });
    group.bench_function("verify 1000 links", |b| {
        b.iter(|| verify(black_box(&chain)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, availability, ranking, bsn, audit);
criterion_main!(benches);
