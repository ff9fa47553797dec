//! The watch validator: what each watcher saw, held against what writers
//! were acknowledged with. Every watcher's revisions strictly increase
//! across its resumptions, and no acknowledged revision of its filter
//! between its first and its last is missing.

use std::collections::BTreeSet;

/// What one watcher saw: each change's revision, in arrival order, and
/// where it resumed after a cut.
#[derive(Debug, Default, Clone)]
pub struct Watched {
    pub revisions: Vec<u64>,
    pub resumptions: usize,
}

/// The problems found with one watcher; empty when it saw what it should.
pub fn validate(watched: &Watched, acknowledged: &BTreeSet<u64>) -> Vec<String> {
    let mut problems = Vec::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(revisions: &[u64]) -> Watched {
        Watched {
            revisions: revisions.to_vec(),
            resumptions: 0,
        }
    }

    #[test]
    fn every_acknowledged_revision_in_order_is_clean() {
        let acknowledged = BTreeSet::from([3, 5, 8]);
        assert!(validate(&watched(&[2, 3, 4, 5, 8]), &acknowledged).is_empty());
    }

    #[test]
    fn a_repeat_a_step_back_and_a_gap_are_each_found() {
        let acknowledged = BTreeSet::from([3, 5, 8]);
        assert_eq!(validate(&watched(&[3, 3, 5, 8]), &acknowledged).len(), 1);
        assert_eq!(validate(&watched(&[3, 5, 4, 8]), &acknowledged).len(), 1);
        let gap = validate(&watched(&[3, 8]), &acknowledged);
        assert!(gap[0].contains("[5]"), "{gap:?}");
    }

    #[test]
    fn revisions_outside_the_watch_are_not_asked_for() {
        let acknowledged = BTreeSet::from([1, 3, 5, 9]);
        assert!(validate(&watched(&[3, 5]), &acknowledged).is_empty());
    }
}
