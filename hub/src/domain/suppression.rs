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

/// Publishes `cells` with their sum. Zero is shown (it identifies nobody);
/// 1–4 are withheld. When the total is shown, the withheld cells must not
/// be recoverable from it: a reader knows each withheld cell is at least
/// one and that together they make `total − shown`, so that remainder must
/// be at least five and more than their number, over at least two cells.
/// The smallest shown cells are withheld as well until it is; when no cell
/// is left to withhold, the total is withheld instead.
pub fn suppress(cells: &[u32]) -> Suppressed {
    let total: u32 = cells.iter().sum();
    let mut withheld: Vec<bool> = cells.iter().map(|n| small(*n)).collect();
    if small(total) {
        return Suppressed {
            cells: publish(cells, &withheld),
            total: Count::Suppressed,
        };
    }
    loop {
        let count = withheld.iter().filter(|w| **w).count() as u32;
        let sum: u32 = cells
            .iter()
            .zip(&withheld)
            .filter(|(_, w)| **w)
            .map(|(n, _)| n)
            .sum();
        if count == 0 || (count >= 2 && sum >= THRESHOLD && sum > count) {
            return Suppressed {
                cells: publish(cells, &withheld),
                total: Count::Shown(total),
            };
        }
        let next = cells
            .iter()
            .enumerate()
            .filter(|(i, n)| !withheld[*i] && **n > 0)
            .min_by_key(|(_, n)| **n)
            .map(|(i, _)| i);
        match next {
            Some(i) => withheld[i] = true,
            None => {
                return Suppressed {
                    cells: publish(cells, &withheld),
                    total: Count::Suppressed,
                };
            }
        }
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
    fn a_lone_small_cell_takes_the_next_smallest_with_it() {
        let published = suppress(&[3, 12, 7]);
        assert_eq!(
            published.cells,
            [Count::Suppressed, Count::Shown(12), Count::Suppressed]
        );
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
        assert_eq!(published.cells[2], Count::Shown(0));
    }

    #[test]
    fn ones_that_would_add_up_exactly_are_not_left_alone() {
        // Five ones: a remainder of five over five cells means each is one.
        let published = suppress(&[1, 1, 1, 1, 1, 9]);
        assert_eq!(published.cells[5], Count::Suppressed);
        assert_eq!(published.total, Count::Shown(14));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_withheld_count_can_be_worked_out(cells in proptest::collection::vec(0u32..12, 1..5)) {
            let published = suppress(&cells);
            for (cell, count) in cells.iter().zip(&published.cells) {
                match count {
                    Count::Shown(n) => prop_assert!(*n == *cell && !small(*n)),
                    Count::Suppressed => prop_assert!(*cell > 0),
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
