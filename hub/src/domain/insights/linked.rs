//! Counts that add up to one another, suppressed together: a withheld
//! count must not be worked out from the counts shown beside it.

use crate::domain::suppression::{Count, is_small, suppress_with};

/// Every count of a response, and the groups in which some of them add up
/// to another: suppressed together until no group can give a withheld
/// count away.
#[derive(Default)]
pub(super) struct Linked {
    values: Vec<u32>,
    withheld: Vec<bool>,
    /// Parts and the cell they add up to.
    groups: Vec<(Vec<usize>, usize)>,
    /// A cell withheld whenever another is (a domain's count beside the total's).
    pub(super) follows: Vec<(usize, usize)>,
}

impl Linked {
    pub(super) fn cell(&mut self, value: u32) -> usize {
        self.values.push(value);
        self.withheld.push(false);
        self.values.len() - 1
    }

    pub(super) fn group(&mut self, parts: Vec<usize>, total: usize) {
        self.groups.push((parts, total));
    }

    /// Withholds small cells, then applies every group's rule, taking what
    /// other groups withheld as forced, until nothing changes. Withholding
    /// only grows, so this ends.
    pub(super) fn settle(&mut self) {
        for (value, withheld) in self.values.iter().zip(&mut self.withheld) {
            *withheld |= is_small(*value);
        }
        loop {
            let mut changed = false;
            for (parts, total) in &self.groups {
                let values: Vec<u32> = parts.iter().map(|i| self.values[*i]).collect();
                let mut forced: Vec<bool> = parts.iter().map(|i| self.withheld[*i]).collect();
                // A withheld total beside parts that are all shown would be their sum.
                if self.withheld[*total] && !forced.iter().any(|f| *f) {
                    forced = values.iter().map(|v| *v > 0).collect();
                }
                let published = suppress_with(&values, &forced);
                for (i, count) in parts.iter().zip(&published.cells) {
                    if *count == Count::Suppressed && !self.withheld[*i] {
                        self.withheld[*i] = true;
                        changed = true;
                    }
                }
                if published.total == Count::Suppressed && !self.withheld[*total] {
                    self.withheld[*total] = true;
                    changed = true;
                }
            }
            for (leader, follower) in &self.follows {
                if self.withheld[*leader] && !self.withheld[*follower] {
                    self.withheld[*follower] = true;
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    pub(super) fn count(&self, cell: usize) -> Count {
        if self.withheld[cell] {
            Count::Suppressed
        } else {
            Count::Shown(self.values[cell])
        }
    }
}
