//! Following a watch from the command line: `spil_client::follow::follow`
//! reopens it after the last revision seen; here each interruption is told
//! on standard error, and a limit stops it after so many messages.

use spil_client::follow::{Interruption, Position};
use std::future::Future;

/// Follows the watch opened by `open` after `from`, handing each message to
/// `each` (which answers whether to go on), saying on standard error why it
/// reopens.
pub async fn follow<T, Open, Opened>(
    from: u64,
    open: Open,
    each: impl FnMut(&T) -> anyhow::Result<bool>,
) -> anyhow::Result<()>
where
    T: Position,
    Open: FnMut(u64) -> Opened,
    Opened: Future<Output = Result<tonic::Streaming<T>, tonic::Status>>,
{
    spil_client::follow::follow(from, open, each, |interruption| match interruption {
        Interruption::Unavailable { retry_in } => {
            eprintln!("hub unavailable, retrying in {retry_in:?}");
        }
        Interruption::Ended {
            status,
            resume_after,
        } => eprintln!(
            "watch interrupted ({:?}: {}); resuming after revision {resume_after}",
            status.code(),
            status.message()
        ),
    })
    .await
}

/// Stops after `limit` messages, when there is one.
pub struct Limit {
    limit: Option<usize>,
    seen: usize,
}

impl Limit {
    pub fn new(limit: Option<usize>) -> Self {
        Self { limit, seen: 0 }
    }

    /// Counts one message; whether to go on.
    pub fn go_on(&mut self) -> bool {
        self.seen += 1;
        self.limit.is_none_or(|limit| self.seen < limit)
    }
}
