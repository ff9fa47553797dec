//! One read of a value the database changes at commit, shared by every caller
//! that arrived before it started (after etcd's batched ReadIndex).
//!
//! A caller needs a value at least as new as every commit acknowledged before
//! it arrived. Any read that *starts* after its arrival gives it that, so
//! callers arriving together wait for one such read instead of each sending
//! its own: under load a search costs a fraction of a query, not one.

use super::StoreError;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(super) struct SharedRead {
    /// How many reads have started; a read's number is its place in that count.
    started: AtomicU64,
    /// One read at a time; holds the number and the value of the newest
    /// read that completed.
    newest: tokio::sync::Mutex<Option<(u64, u64)>>,
}

impl SharedRead {
    /// The value `read` returns, from a read started after this call began:
    /// the one a caller ahead of it started, or else its own.
    pub(super) async fn read<F, Fut>(&self, read: F) -> Result<u64, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        let arrived = self.started.load(Ordering::Acquire);
        let mut newest = self.newest.lock().await;
        if let Some((number, value)) = *newest
            && number > arrived
        {
            return Ok(value);
        }
        // Numbered before it starts: a caller that sees this number arrived
        // before the read began, and may take its value.
        let number = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let value = read().await?;
        *newest = Some((number, value));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    #[tokio::test]
    async fn a_read_started_before_a_caller_arrived_is_never_its_answer() {
        let shared = Arc::new(SharedRead::default());
        let database = Arc::new(AtomicU64::new(1));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
        // A first read that reads 1, then waits.
        let first = {
            let (shared, database) = (Arc::clone(&shared), Arc::clone(&database));
            tokio::spawn(async move {
                shared
                    .read(|| async move {
                        let value = database.load(Ordering::SeqCst);
                        started_tx.send(()).unwrap();
                        finish_rx.await.unwrap();
                        Ok(value)
                    })
                    .await
            })
        };
        started_rx.await.unwrap();
        // A commit is acknowledged, then a second caller arrives: the read
        // in flight began before it and must not answer it.
        database.store(2, Ordering::SeqCst);
        let second = {
            let (shared, database) = (Arc::clone(&shared), Arc::clone(&database));
            tokio::spawn(async move {
                shared
                    .read(|| async move { Ok(database.load(Ordering::SeqCst)) })
                    .await
            })
        };
        tokio::task::yield_now().await;
        finish_tx.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(second.await.unwrap().unwrap(), 2);
    }

    #[tokio::test]
    async fn callers_waiting_behind_a_read_share_the_next_one() {
        let shared = Arc::new(SharedRead::default());
        let reads = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let callers: Vec<_> = (0..10)
            .map(|_| {
                let (shared, reads, gate) =
                    (Arc::clone(&shared), Arc::clone(&reads), Arc::clone(&gate));
                tokio::spawn(async move {
                    shared
                        .read(|| async move {
                            let _ = gate.acquire().await.unwrap();
                            Ok(reads.fetch_add(1, Ordering::SeqCst) + 1)
                        })
                        .await
                })
            })
            .collect();
        // Every caller is waiting: the first inside its read, the rest behind it.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(10);
        let mut answers = Vec::new();
        for caller in callers {
            answers.push(caller.await.unwrap().unwrap());
        }
        // The first caller's own read, then one read for the nine behind it.
        assert_eq!(reads.load(Ordering::SeqCst), 2, "{answers:?}");
        assert_eq!(answers.iter().filter(|&&a| a == 1).count(), 1);
        assert_eq!(answers.iter().filter(|&&a| a == 2).count(), 9);
    }

    #[tokio::test]
    async fn a_failed_read_fails_its_caller_only() {
        let shared = SharedRead::default();
        let failed = shared
            .read(|| async { Err(StoreError::Corrupt("no row".into())) })
            .await;
        assert!(failed.is_err());
        assert_eq!(shared.read(|| async { Ok(7) }).await.unwrap(), 7);
    }
}
