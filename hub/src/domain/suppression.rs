//! Small-cell suppression: counts of children (searches, placements,
//! consultations) below five are withheld, and so is whatever would let a
//! reader work a withheld count out from a total shown beside it.

/// Counts below this are never shown.
pub const THRESHOLD: u32 = 5;

/// A count as published: its value, or withheld (shown as "< 5").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Shown(u32),
    Suppressed,
}

impl Count {
    pub fn shown(self) -> Option<u32> {
        match self {
            Count::Shown(n) => Some(n),
            Count::Suppressed => None,
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Shown(n) => write!(f, "{n}"),
            Count::Suppressed => write!(f, "< {THRESHOLD}"),
        }
    }
}

/// A group of cells and their total, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub cells: Vec<Count>,
    pub total: Count,
}

fn small(n: u32) -> bool {
    0 < n && n < THRESHOLD
}

/// Publishes `cells` with their sum. When any cell is 1–4, every cell of
/// the group is withheld, zeros included: which cells are withheld then
/// depends on no value but whether any is small, so a reader who knows
/// this rule learns nothing more from the pattern. (Withholding just the
/// small cells and the next smallest would tell, for instance, that two
/// withheld cells under a shown 5 must both be 4; showing the zeros would
/// tell how many withheld cells are at least one, a lower bound that other
/// figures of the response can turn into a value.) The total is shown when
/// it is not small itself and the withheld cells could still be split in
/// more than one way: at least two of them, summing to more than their
/// number.
pub fn suppress(cells: &[u32]) -> Suppressed {
    suppress_with(cells, &vec![false; cells.len()])
}

/// Whether a lone count would be withheld: 1–4.
pub fn is_small(n: u32) -> bool {
    small(n)
}

/// As [`suppress`], with some cells withheld whatever their value, because
/// another figure in the same response must not be worked out from them
/// (a row whose total is withheld keeps all its columns withheld). A
/// forced cell counts as a small one: the rest of the group is withheld
/// with it.
pub fn suppress_with(cells: &[u32], forced: &[bool]) -> Suppressed {
    let total: u32 = cells.iter().sum();
    let forced = |i: usize| forced.get(i).copied().unwrap_or(false);
    let protect = cells
        .iter()
        .enumerate()
        .any(|(i, n)| small(*n) || forced(i));
    let withheld = vec![protect; cells.len()];
    let count = withheld.iter().filter(|w| **w).count() as u32;
    let sum: u32 = cells
        .iter()
        .zip(&withheld)
        .filter(|(_, w)| **w)
        .map(|(n, _)| n)
        .sum();
    let total_shown = !small(total) && (count == 0 || (count >= 2 && sum > count));
    Suppressed {
        cells: publish(cells, &withheld),
        total: if total_shown {
            Count::Shown(total)
        } else {
            Count::Suppressed
        },
    }
}

fn publish(cells: &[u32], withheld: &[bool]) -> Vec<Count> {
    cells
        .iter()
        .zip(withheld)
        .map(|(n, w)| {
            if *w {
                Count::Suppressed
            } else {
                Count::Shown(*n)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every value each withheld cell could have, given what is shown: each
    /// withheld cell is at least one, and with a shown total they sum to
    /// the remainder. Brute force over small values.
    fn possible_values(published: &Suppressed) -> Vec<std::collections::BTreeSet<u32>> {
        let withheld: Vec<usize> = (0..published.cells.len())
            .filter(|i| published.cells[*i] == Count::Suppressed)
            .collect();
        let shown: u32 = published.cells.iter().filter_map(|c| c.shown()).sum();
        let mut possible = vec![std::collections::BTreeSet::new(); withheld.len()];
        let max = 40u32;
        let mut assignment = vec![1u32; withheld.len()];
        loop {
            let sum: u32 = assignment.iter().sum();
            let consistent = match published.total {
                Count::Shown(total) => shown + sum == total,
                Count::Suppressed => true,
            };
            if consistent {
                for (slot, value) in assignment.iter().enumerate() {
                    possible[slot].insert(*value);
                }
            }
            // Next assignment, like an odometer.
            let mut i = 0;
            loop {
                if i == assignment.len() {
                    return possible;
                }
                assignment[i] += 1;
                if assignment[i] <= max {
                    break;
                }
                assignment[i] = 1;
                i += 1;
            }
        }
    }

    #[test]
    fn a_small_cell_takes_every_other_cell_of_its_group_with_it() {
        let published = suppress(&[3, 12, 0, 7]);
        assert_eq!(published.cells, [Count::Suppressed; 4]);
        assert_eq!(published.total, Count::Shown(22));
    }

    #[test]
    fn zeros_and_large_cells_are_shown() {
        let published = suppress(&[0, 12, 7]);
        assert_eq!(
            published.cells,
            [Count::Shown(0), Count::Shown(12), Count::Shown(7)]
        );
        assert_eq!(published.total, Count::Shown(19));
    }

    #[test]
    fn a_small_total_is_withheld_with_its_cells() {
        let published = suppress(&[1, 2, 0]);
        assert_eq!(published.total, Count::Suppressed);
        assert_eq!(published.cells, [Count::Suppressed; 3]);
    }

    #[test]
    fn ones_that_would_add_up_exactly_are_not_left_alone() {
        // Five ones: a remainder of five over five cells means each is one.
        let published = suppress(&[1, 1, 1, 1, 1, 9]);
        assert_eq!(published.cells[5], Count::Suppressed);
        assert_eq!(published.total, Count::Shown(14));
    }

    /// Every group of up to three cells of up to `CAP`, published; groups
    /// that publish alike are what a reader who knows the rule cannot tell
    /// apart. Judged where the values leave room below `CAP`.
    #[test]
    fn a_reader_who_knows_the_rule_cannot_work_out_a_withheld_cell() {
        const CAP: u32 = 12;
        const JUDGED: u32 = 8;
        for len in 1..=3usize {
            let mut all: Vec<Vec<u32>> = vec![vec![]];
            for _ in 0..len {
                all = all
                    .into_iter()
                    .flat_map(|v| {
                        (0..=CAP).map(move |n| {
                            let mut v = v.clone();
                            v.push(n);
                            v
                        })
                    })
                    .collect();
            }
            let mut alike: std::collections::HashMap<String, Vec<Vec<u32>>> = Default::default();
            for cells in &all {
                alike
                    .entry(format!("{:?}", suppress(cells)))
                    .or_default()
                    .push(cells.clone());
            }
            for cells in all.iter().filter(|c| c.iter().all(|n| *n <= JUDGED)) {
                let published = suppress(cells);
                let twins = &alike[&format!("{published:?}")];
                for (i, count) in published.cells.iter().enumerate() {
                    if *count == Count::Suppressed && small(cells[i]) {
                        let values: std::collections::BTreeSet<u32> =
                            twins.iter().map(|t| t[i]).collect();
                        assert!(values.len() >= 2, "{cells:?} → {published:?}");
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_withheld_count_can_be_worked_out(cells in proptest::collection::vec(0u32..12, 1..5)) {
            let published = suppress(&cells);
            for (cell, count) in cells.iter().zip(&published.cells) {
                match count {
                    Count::Shown(n) => prop_assert!(*n == *cell && !small(*n)),
                    Count::Suppressed => prop_assert!(cells.iter().any(|n| small(*n))),
                }
            }
            if let Count::Shown(total) = published.total {
                prop_assert_eq!(total, cells.iter().sum::<u32>());
            }
            for values in possible_values(&published) {
                prop_assert!(values.len() >= 2, "a withheld cell is determined: {:?} → {:?}", cells, published);
            }
        }
    }
}
