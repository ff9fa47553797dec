//! The registry's rules for one offering, written plainly as a sequential
//! specification for the checker, and the check itself: the history split
//! per offering (linearizability is local, so each offering is judged on
//! its own, as Porcupine partitions), each part judged by todc-utils'
//! Wing–Gong–Lowe checker, and a refused part shrunk to the shortest
//! prefix that is still refused.

use std::collections::{BTreeMap, BTreeSet};
use todc_utils::{Action, History, Specification, WGLChecker};

/// A client's identity in the history. A client whose operation ended with
/// an unknown outcome goes on under a new process id, as in Jepsen: its
/// unknown operation stays open until the end of the history.
pub type ProcessId = usize;

/// What an operation did, as far as its client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome<T> {
    /// The call, before an answer.
    Pending,
    Known(T),
    /// A timeout, a killed hub, UNAVAILABLE after sending: it may have
    /// happened or not.
    Unknown,
}

/// One operation on one offering, with its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// A publication of `free` places.
    Publish { free: u32, outcome: Outcome<()> },
    /// A hold; `Some(hold)` granted (the hold's number in the run), `None`
    /// refused for want of a free place.
    Hold { outcome: Outcome<Option<u32>> },
    /// A confirmation of hold `hold`: `true` confirmed, `false` refused.
    Confirm { hold: u32, outcome: Outcome<bool> },
    /// A release of hold `hold`: `true` released, `false` refused.
    Release { hold: u32, outcome: Outcome<bool> },
    /// A read of the places shown as available.
    Read { outcome: Outcome<u32> },
}

/// One offering as the registry's rules keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Offering {
    /// The latest published free places; `None` before the first.
    pub published_free: Option<u32>,
    /// Active holds, by number; holds whose grant was never seen are
    /// counted in `unseen_holds`.
    pub active: BTreeSet<u32>,
    pub unseen_holds: u32,
    /// Placements confirmed since the latest publication.
    pub placed: u32,
}

impl Offering {
    /// Available = published free − active holds − placements since, never below zero.
    pub fn available(&self) -> u32 {
        let held = self.active.len() as u32 + self.unseen_holds;
        self.published_free
            .unwrap_or(0)
            .saturating_sub(held)
            .saturating_sub(self.placed)
    }
}

/// The rules for one offering.
pub struct Registry;

impl Specification for Registry {
    type State = Offering;
    type Operation = Op;

    fn init() -> Offering {
        Offering::default()
    }

    fn apply(op: &Op, state: &Offering) -> (bool, Offering) {
        let mut next = state.clone();
        let valid = match *op {
            Op::Publish { free, outcome } => {
                // An unknown publication may have happened: the checker also
                // tries it last, which is as if it had not.
                if outcome != Outcome::Pending {
                    next.published_free = Some(free);
                    next.placed = 0;
                }
                outcome != Outcome::Pending
            }
            Op::Hold { outcome } => match outcome {
                Outcome::Known(Some(hold)) => {
                    next.active.insert(hold);
                    state.available() > 0
                }
                Outcome::Known(None) => state.available() == 0,
                Outcome::Unknown => {
                    if state.available() > 0 {
                        next.unseen_holds += 1;
                    }
                    true
                }
                Outcome::Pending => false,
            },
            Op::Confirm { hold, outcome } => match outcome {
                Outcome::Known(true) | Outcome::Unknown if state.active.contains(&hold) => {
                    next.active.remove(&hold);
                    next.placed += 1;
                    true
                }
                Outcome::Known(true) => false,
                Outcome::Known(false) => !state.active.contains(&hold),
                Outcome::Unknown => true,
                Outcome::Pending => false,
            },
            Op::Release { hold, outcome } => match outcome {
                Outcome::Known(true) | Outcome::Unknown if state.active.contains(&hold) => {
                    next.active.remove(&hold);
                    true
                }
                Outcome::Known(true) => false,
                Outcome::Known(false) => !state.active.contains(&hold),
                Outcome::Unknown => true,
                Outcome::Pending => false,
            },
            Op::Read { outcome } => match outcome {
                Outcome::Known(available) => available == state.available(),
                Outcome::Unknown => true,
                Outcome::Pending => false,
            },
        };
        (valid, next)
    }
}

/// One event of a recorded history: a call or its answer, on one offering.
#[derive(Debug, Clone)]
pub struct Event {
    pub process: ProcessId,
    pub offering: String,
    pub call: bool,
    pub op: Op,
}

/// The verdict on one offering's part of a history.
#[derive(Debug)]
pub struct Verdict {
    pub offering: String,
    pub operations: usize,
    /// `None`: linearizable. `Some`: the shortest refused prefix, as events.
    pub violation: Option<Vec<Event>>,
}

/// Judges `events` (in real-time order: a call is recorded before it is
/// sent, an answer after it arrived) per offering.
pub fn check(events: &[Event]) -> Vec<Verdict> {
    let mut parts: BTreeMap<&str, Vec<Event>> = BTreeMap::new();
    for event in events {
        parts
            .entry(&event.offering)
            .or_default()
            .push(event.clone());
    }
    // Partitions are independent: judged side by side, one thread each.
    std::thread::scope(|scope| {
        let judged: Vec<_> = parts
            .into_iter()
            .map(|(offering, part)| {
                scope.spawn(move || {
                    let operations = part.iter().filter(|e| e.call).count();
                    let violation = (!linearizable(&part)).then(|| shortest_refused_prefix(&part));
                    Verdict {
                        offering: offering.to_owned(),
                        operations,
                        violation,
                    }
                })
            })
            .collect();
        judged
            .into_iter()
            .map(|judging| judging.join().expect("a partition's check does not panic"))
            .collect()
    })
}

/// Whether one offering's events have a linearization.
pub fn linearizable(part: &[Event]) -> bool {
    let closed = close(part);
    if closed.is_empty() {
        return true;
    }
    WGLChecker::<Registry>::is_linearizable(History::from_actions(closed))
}

/// The events as the checker takes them; an operation still open at the end
/// is closed there with an unknown outcome (it may or may not have happened).
fn close(part: &[Event]) -> Vec<(ProcessId, Action<Op>)> {
    let mut open: BTreeMap<ProcessId, Op> = BTreeMap::new();
    let mut actions = Vec::with_capacity(part.len() + 8);
    for event in part {
        if event.call {
            open.insert(event.process, event.op);
            actions.push((event.process, Action::Call(event.op)));
        } else {
            open.remove(&event.process);
            actions.push((event.process, Action::Response(event.op)));
        }
    }
    // A read whose answer never came constrains nothing: it is left out.
    let unanswered_reads: BTreeSet<ProcessId> = open
        .iter()
        .filter(|(_, op)| matches!(op, Op::Read { .. }))
        .map(|(process, _)| *process)
        .collect();
    if !unanswered_reads.is_empty() {
        let mut last_call: BTreeMap<ProcessId, usize> = BTreeMap::new();
        for (index, (process, action)) in actions.iter().enumerate() {
            if matches!(action, Action::Call(_)) {
                last_call.insert(*process, index);
            }
        }
        let dropped: BTreeSet<usize> = unanswered_reads.iter().map(|p| last_call[p]).collect();
        actions = actions
            .into_iter()
            .enumerate()
            .filter(|(index, _)| !dropped.contains(index))
            .map(|(_, action)| action)
            .collect();
    }
    for (process, op) in open {
        if !matches!(op, Op::Read { .. }) {
            actions.push((process, Action::Response(unknown(op))));
        }
    }
    actions
}

/// `op` with its outcome unknown.
pub fn unknown(op: Op) -> Op {
    match op {
        Op::Publish { free, .. } => Op::Publish {
            free,
            outcome: Outcome::Unknown,
        },
        Op::Hold { .. } => Op::Hold {
            outcome: Outcome::Unknown,
        },
        Op::Confirm { hold, .. } => Op::Confirm {
            hold,
            outcome: Outcome::Unknown,
        },
        Op::Release { hold, .. } => Op::Release {
            hold,
            outcome: Outcome::Unknown,
        },
        Op::Read { .. } => Op::Read {
            outcome: Outcome::Unknown,
        },
    }
}

/// The shortest prefix of a refused part that is still refused (answers
/// after the cut are treated as unknown), found by bisection: refusal can
/// only start once the offending answer is in.
fn shortest_refused_prefix(part: &[Event]) -> Vec<Event> {
    let (mut good, mut bad) = (0, part.len());
    while bad - good > 1 {
        let middle = (good + bad) / 2;
        if linearizable(&part[..middle]) {
            good = middle;
        } else {
            bad = middle;
        }
    }
    part[..bad].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(process: ProcessId, op: Op) -> Event {
        Event {
            process,
            offering: "o".into(),
            call: true,
            op,
        }
    }

    fn answer(process: ProcessId, op: Op) -> Event {
        Event {
            call: false,
            ..call(process, op)
        }
    }

    const PENDING_HOLD: Op = Op::Hold {
        outcome: Outcome::Pending,
    };

    fn publish(free: u32) -> [Event; 2] {
        let pending = Op::Publish {
            free,
            outcome: Outcome::Pending,
        };
        let done = Op::Publish {
            free,
            outcome: Outcome::Known(()),
        };
        [call(0, pending), answer(0, done)]
    }

    fn granted(hold: u32) -> Op {
        Op::Hold {
            outcome: Outcome::Known(Some(hold)),
        }
    }

    #[test]
    fn two_holds_granted_for_one_place_are_refused_by_the_checker() {
        let mut history = publish(1).to_vec();
        history.extend([
            call(1, PENDING_HOLD),
            call(2, PENDING_HOLD),
            answer(1, granted(1)),
            answer(2, granted(2)),
        ]);
        assert!(!linearizable(&history));
        let verdict = check(&history);
        let shortest = verdict[0].violation.as_ref().expect("a violation");
        assert_eq!(shortest.len(), history.len(), "both grants are needed");
    }

    #[test]
    fn a_hold_refused_while_a_place_was_free_is_refused_and_shrunk() {
        let mut history = publish(2).to_vec();
        history.extend([
            call(1, PENDING_HOLD),
            answer(
                1,
                Op::Hold {
                    outcome: Outcome::Known(None),
                },
            ),
            call(2, PENDING_HOLD),
            answer(2, granted(1)),
        ]);
        let verdict = check(&history);
        let shortest = verdict[0].violation.as_ref().expect("a violation");
        assert_eq!(shortest.len(), 4, "the refusal is enough: {shortest:?}");
    }

    #[test]
    fn concurrent_holds_that_split_the_places_are_linearizable() {
        let mut history = publish(1).to_vec();
        history.extend([
            call(1, PENDING_HOLD),
            call(2, PENDING_HOLD),
            answer(
                2,
                Op::Hold {
                    outcome: Outcome::Known(None),
                },
            ),
            answer(1, granted(1)),
            call(
                3,
                Op::Read {
                    outcome: Outcome::Pending,
                },
            ),
            answer(
                3,
                Op::Read {
                    outcome: Outcome::Known(0),
                },
            ),
        ]);
        assert!(linearizable(&history));
    }

    #[test]
    fn an_unknown_hold_may_have_happened_or_not() {
        let read = |n| Op::Read {
            outcome: Outcome::Known(n),
        };
        let pending_read = Op::Read {
            outcome: Outcome::Pending,
        };
        for seen in [0, 1] {
            let mut history = publish(1).to_vec();
            // Process 1's hold never answered (its hub was killed).
            history.extend([
                call(1, PENDING_HOLD),
                call(2, pending_read),
                answer(2, read(seen)),
            ]);
            assert!(linearizable(&history), "a read of {seen}");
        }
        let mut history = publish(1).to_vec();
        history.extend([
            call(1, PENDING_HOLD),
            call(2, pending_read),
            answer(2, read(2)),
        ]);
        assert!(!linearizable(&history), "but never more than was published");
    }

    #[test]
    fn a_confirmed_hold_stays_taken_until_the_next_publication() {
        let mut history = publish(2).to_vec();
        history.extend([call(1, PENDING_HOLD), answer(1, granted(1))]);
        history.extend([
            call(
                1,
                Op::Confirm {
                    hold: 1,
                    outcome: Outcome::Pending,
                },
            ),
            answer(
                1,
                Op::Confirm {
                    hold: 1,
                    outcome: Outcome::Known(true),
                },
            ),
        ]);
        let read = |n| {
            [
                call(
                    2,
                    Op::Read {
                        outcome: Outcome::Pending,
                    },
                ),
                answer(
                    2,
                    Op::Read {
                        outcome: Outcome::Known(n),
                    },
                ),
            ]
        };
        let mut taken = history.clone();
        taken.extend(read(1));
        assert!(linearizable(&taken));
        let mut freed = history.clone();
        freed.extend(read(2));
        assert!(!linearizable(&freed), "a placement is not given back");
        let mut republished = history;
        republished.extend(publish(2));
        republished.extend(read(2));
        assert!(
            linearizable(&republished),
            "a new publication counts afresh"
        );
    }
}
