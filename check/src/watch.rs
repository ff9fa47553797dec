//! The watch validator: what each watcher saw, held against what writers
//! were acknowledged with. Every watcher's revisions strictly increase
//! across its resumptions, no acknowledged revision of its filter between
//! its first and its last is missing, and every change's content follows
//! from the one before it on that offering by exactly one operation of the
//! sequential specification (a publication carrying the figures it was
//! acknowledged with).

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What one watcher saw: each change's revision, in arrival order, the
/// offerings' figures at each, and where it resumed after a cut.
#[derive(Debug, Default, Clone)]
pub struct Watched {
    pub revisions: Vec<u64>,
    pub changes: Vec<Change>,
    pub resumptions: usize,
}

/// One offering as a watch event showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub revision: u64,
    /// Index of the offering among the run's offerings.
    pub offering: usize,
    pub published_free: u32,
    pub held: u32,
    pub placed: u32,
    pub available: u32,
    pub stale: bool,
}

/// A publication a writer was acknowledged with: its offering and figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub offering: usize,
    pub free: u32,
}

/// The problems found with one watcher; empty when it saw what it should.
pub fn validate(watched: &Watched, acknowledged: &BTreeMap<u64, Published>) -> Vec<String> {
    let mut problems = content(watched, acknowledged);
    let acknowledged: BTreeSet<u64> = acknowledged.keys().copied().collect();
    for pair in watched.revisions.windows(2) {
        if pair[1] <= pair[0] {
            problems.push(format!("revision {} came after {}", pair[1], pair[0]));
        }
    }
    let (Some(first), Some(last)) = (watched.revisions.first(), watched.revisions.last()) else {
        return problems;
    };
    let seen: BTreeSet<u64> = watched.revisions.iter().copied().collect();
    let missing: Vec<u64> = acknowledged
        .range(first..=last)
        .filter(|revision| !seen.contains(revision))
        .copied()
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} acknowledged revision(s) never arrived, first {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        ));
    }
    problems
}

/// Each change held against the specification: its available count is
/// its own figures' (published free − held − placed, never below zero, zero
/// when stale); an acknowledged publication shows its figure with no
/// placement since; any other change is one hold granted, confirmed, or
/// ended from the offering's previous change. A revision the watcher missed
/// shows as a step of two.
fn content(watched: &Watched, acknowledged: &BTreeMap<u64, Published>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut previous: HashMap<usize, Change> = HashMap::new();
    for change in &watched.changes {
        let expected = if change.stale {
            0
        } else {
            change
                .published_free
                .saturating_sub(change.held + change.placed)
        };
        if change.available != expected {
            problems.push(format!(
                "revision {}: {change:?} shows {} available, its figures give {expected}",
                change.revision, change.available
            ));
        }
        let published = acknowledged
            .get(&change.revision)
            .filter(|p| p.offering == change.offering);
        if let Some(published) = published
            && (change.published_free != published.free || change.placed != 0)
        {
            problems.push(format!(
                "revision {}: a publication of {} free acknowledged, the watcher saw {change:?}",
                change.revision, published.free
            ));
        }
        if let Some(before) = previous.insert(change.offering, *change)
            && !one_step(&before, change, published.is_some())
        {
            problems.push(format!(
                "revision {}: {change:?} does not follow from {before:?} by one operation",
                change.revision
            ));
        }
    }
    problems
}

/// Whether `after` is `before` with one operation of the specification
/// applied: a publication (placements since reset, holds kept), a hold
/// granted while a place was available, a hold confirmed, a hold ended
/// (released or expired), or a hold put under a placement request, which
/// keeps its place and changes no figure.
fn one_step(before: &Change, after: &Change, publication: bool) -> bool {
    let same_publication = after.published_free == before.published_free;
    let granted = same_publication
        && after.held == before.held + 1
        && after.placed == before.placed
        && before.available > 0;
    let confirmed = same_publication
        && before.held > 0
        && after.held == before.held - 1
        && after.placed == before.placed + 1;
    let ended = same_publication
        && before.held > 0
        && after.held == before.held - 1
        && after.placed == before.placed;
    let published = after.held == before.held && after.placed == 0;
    let requested = same_publication && after.held == before.held && after.placed == before.placed;
    if publication {
        published
    } else {
        // An unacknowledged publication (its answer lost) is a publication too.
        granted || confirmed || ended || published || requested
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(revisions: &[u64]) -> Watched {
        Watched {
            revisions: revisions.to_vec(),
            ..Default::default()
        }
    }

    fn acknowledged(revisions: &[u64]) -> BTreeMap<u64, Published> {
        revisions
            .iter()
            .map(|&r| {
                let published = Published {
                    offering: 9,
                    free: 0,
                };
                (r, published)
            })
            .collect()
    }

    /// Offering 0's figures at a revision: (published free, held, placed).
    fn change(revision: u64, (published_free, held, placed): (u32, u32, u32)) -> Change {
        Change {
            revision,
            offering: 0,
            published_free,
            held,
            placed,
            available: published_free.saturating_sub(held + placed),
            stale: false,
        }
    }

    fn with_changes(changes: Vec<Change>) -> Watched {
        Watched {
            revisions: changes.iter().map(|c| c.revision).collect(),
            changes,
            resumptions: 0,
        }
    }

    #[test]
    fn a_hold_put_under_a_request_keeps_its_place_and_a_lost_place_does_not_pass() {
        let requested = with_changes(vec![
            change(1, (2, 1, 0)),
            change(2, (2, 1, 0)),
            change(3, (2, 0, 1)),
        ]);
        assert_eq!(content(&requested, &BTreeMap::new()), Vec::<String>::new());
        // A request that gave the place away without an answer is no step.
        let lost = with_changes(vec![change(1, (2, 1, 0)), change(2, (2, 0, 0))]);
        assert!(
            content(&lost, &BTreeMap::new()).is_empty(),
            "an ended hold is a step"
        );
        let doubled = with_changes(vec![change(1, (2, 1, 0)), change(2, (2, 1, 1))]);
        assert_eq!(
            content(&doubled, &BTreeMap::new()).len(),
            1,
            "a placement from nowhere"
        );
    }

    #[test]
    fn a_life_of_publications_holds_confirmations_and_ends_is_clean() {
        let watched = with_changes(vec![
            change(1, (2, 0, 0)),
            change(2, (2, 1, 0)),
            change(3, (2, 2, 0)),
            change(4, (2, 1, 1)),
            change(5, (2, 0, 1)),
            change(6, (3, 0, 0)),
        ]);
        let published = BTreeMap::from([
            (
                1,
                Published {
                    offering: 0,
                    free: 2,
                },
            ),
            (
                6,
                Published {
                    offering: 0,
                    free: 3,
                },
            ),
        ]);
        assert!(validate(&watched, &published).is_empty());
    }

    #[test]
    fn wrong_content_is_found() {
        let one = BTreeMap::from([(
            1,
            Published {
                offering: 0,
                free: 1,
            },
        )]);
        // A grant with nothing available.
        let overbooked = with_changes(vec![
            change(1, (1, 0, 0)),
            change(2, (1, 1, 0)),
            change(3, (1, 2, 0)),
        ]);
        assert_eq!(validate(&overbooked, &one).len(), 1);
        let published = BTreeMap::from([(
            1,
            Published {
                offering: 0,
                free: 2,
            },
        )]);
        // A missed hold: two granted in one step.
        let skipped = with_changes(vec![change(1, (2, 0, 0)), change(3, (2, 2, 0))]);
        assert!(!validate(&skipped, &published).is_empty());
        // An available count its own figures do not give.
        let mut wrong = change(2, (2, 1, 0));
        wrong.available = 2;
        assert!(!validate(&with_changes(vec![change(1, (2, 0, 0)), wrong]), &published).is_empty());
        // A publication showing another figure than the one acknowledged.
        assert!(!validate(&with_changes(vec![change(1, (3, 0, 0))]), &published).is_empty());
    }

    #[test]
    fn every_acknowledged_revision_in_order_is_clean() {
        let acknowledged = acknowledged(&[3, 5, 8]);
        assert!(validate(&watched(&[2, 3, 4, 5, 8]), &acknowledged).is_empty());
    }

    #[test]
    fn a_repeat_a_step_back_and_a_gap_are_each_found() {
        let acknowledged = acknowledged(&[3, 5, 8]);
        assert_eq!(validate(&watched(&[3, 3, 5, 8]), &acknowledged).len(), 1);
        assert_eq!(validate(&watched(&[3, 5, 4, 8]), &acknowledged).len(), 1);
        let gap = validate(&watched(&[3, 8]), &acknowledged);
        assert!(gap[0].contains("[5]"), "{gap:?}");
    }

    #[test]
    fn revisions_outside_the_watch_are_not_asked_for() {
        let acknowledged = acknowledged(&[1, 3, 5, 9]);
        assert!(validate(&watched(&[3, 5]), &acknowledged).is_empty());
    }
}
