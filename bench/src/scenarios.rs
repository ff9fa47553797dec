//! The scenarios, one file each; `main` runs those asked for.

mod board;
mod consultations;
mod flood;
mod holds;
mod memory;
mod overload;
mod publish;
mod regions;
mod search;
mod watch;

pub(crate) use overload::*;
pub(crate) use search::*;
pub(crate) use watch::*;
