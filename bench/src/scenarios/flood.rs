//! One organisation floods; another's crisis searches are measured alone
//! and under the flood.

use crate::*;

impl Bench {
    /// One crisis service floods the hub at `flood_rate` searches/s while
    /// another searches at `flood_other_rate`, both open loop, against a hub
    /// with its default per-organisation shares. The other's searches are
    /// first measured alone (the baseline, same rate and connections, after
    /// an uncounted warm-up), then under the flood; the flood's refusals are
    /// timed from their intended send time, like every call here.
    pub(crate) async fn flood(&self) -> anyhow::Result<Flood> {
        let flooder = self
            .clients("crisisdienst-haaglanden", self.args.connections)
            .await?;
        let other = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        let seconds = Duration::from_secs_f64(self.args.seconds);
        let other_rate = self.args.flood_other_rate;
        let search = |client| crisis_search(client, None);
        // The quiet baseline is what the ratio is against: a warm-up of a
        // few seconds first (connections, the hub's caches, the first
        // pages), uncounted, so that one slow start does not set it.
        let warm_up = (self.warm_up() * 4).max(Duration::from_secs(1));
        let _ = open_loop(other_rate, warm_up, &other, search).await;
        let quiet = open_loop(other_rate, seconds, &other, search).await;
        let flood = tokio::spawn({
            let rate = self.args.flood_rate;
            async move { open_loop(rate, seconds, &flooder, search).await }
        });
        let flooded = open_loop(other_rate, seconds, &other, search).await;
        let flood = flood.await?;
        let other_quiet = quiet.report("flood: other org, alone");
        let mut other_flooded = flooded.report("flood: other org, flooded");
        other_flooded.note = format!(
            "{}; beside a flood of {:.0}/s",
            other_flooded.note, flood.sent_per_second
        );
        let mut refusals = Report::new("flood: refusals", flood.elapsed);
        refusals.ok = flood.refused.len();
        refusals.errors = flood.other_errors;
        refusals.latency_us = flood.refused.clone();
        refusals.note = format!(
            "sent {:.0}/s of {:.0}/s asked; {} admitted (p99 {:.2} ms); ok counts RESOURCE_EXHAUSTED, err anything else",
            flood.sent_per_second,
            self.args.flood_rate,
            flood.admitted.len(),
            flood.admitted.value_at_quantile(0.99) as f64 / 1000.0
        );
        Ok(Flood {
            other_quiet,
            other_flooded,
            refusals,
        })
    }
}

/// The flood scenario's three figures.
pub(crate) struct Flood {
    pub(crate) other_quiet: Report,
    pub(crate) other_flooded: Report,
    pub(crate) refusals: Report,
}
