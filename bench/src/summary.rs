//! The summary of a run: medians of every scenario, and each hub figure
//! as a ratio to its baseline from the same run, beside its target.

use crate::*;

/// Every scenario's runs, by key.
type Runs = std::collections::BTreeMap<&'static str, Vec<Report>>;

/// Prints one ratio beside its target, marked when its baseline was noisy.
struct Ratios<'r> {
    runs: &'r Runs,
    noisy: Vec<&'static str>,
}

impl Ratios<'_> {
    fn m(&self, key: &str) -> Option<Medians> {
        self.runs.get(key).map(|r| medians(r))
    }

    fn ratio(&self, label: &str, value: f64, target: &str, baseline: &str) {
        let noise = if self.noisy.contains(&baseline) {
            "  (baseline noisy)"
        } else {
            ""
        };
        println!("{label:<56} {value:>8.2}   {target}{noise}");
    }
}

impl Bench {
    /// Medians of every scenario, then each hub figure as a ratio to its
    /// baseline from the same run, beside the target it is held to.
    pub(crate) fn print_summary(&self, runs: &Runs) {
        print_medians(self.args.repeat, runs);
        let ratios = Ratios {
            runs,
            noisy: noisy_baselines(runs),
        };
        println!("\n## ratios (target; stretch)");
        self.print_speed_ratios(&ratios);
        self.print_load_ratios(&ratios);
    }

    /// Searches, publications, watches and holds against their baselines.
    fn print_speed_ratios(&self, ratios: &Ratios<'_>) {
        let m = |key: &str| ratios.m(key);
        let ratio = |label: &str, value: f64, target: &str, baseline: &str| {
            ratios.ratio(label, value, target, baseline)
        };
        if let (Some(search), Some(echo)) = (m("search"), m("echo-sized")) {
            ratio(
                "search throughput / sized echo throughput",
                search.per_second / echo.per_second,
                "≥ 0.50; 0.70",
                "echo-sized",
            );
            ratio(
                "search p99 / sized echo p99",
                search.p99 / echo.p99,
                "≤ 3; 2",
                "echo-sized",
            );
        }
        if let (Some(search), Some(gzip)) = (m("search"), m("search-gzip")) {
            // What compression costs the hub's CPU (it saves the wire, see the note).
            ratio(
                "search with gzip answers / plain (throughput)",
                gzip.per_second / search.per_second,
                "(cost)",
                "search",
            );
        }
        if let (Some(search), Some(echo)) = (m("search"), m("echo-100")) {
            ratio(
                "search throughput / 100-byte echo throughput",
                search.per_second / echo.per_second,
                "≥ 0.30",
                "echo-100",
            );
        }
        if let (Some(publish), Some(put)) = (m("publish"), m("etcd-put")) {
            ratio(
                "durable publish rate / etcd mTLS put rate",
                publish.per_second / put.per_second,
                "≥ 1.0",
                "etcd-put",
            );
        }
        if let (Some(watch), Some(etcd)) = (m("watch-1"), m("etcd-watch-1")) {
            ratio(
                "watch p50 from send / etcd's, 1 watcher",
                watch.p50 / etcd.p50,
                "≤ 2; 1",
                "etcd-watch-1",
            );
            ratio(
                "watch p99 from send / etcd's, 1 watcher",
                watch.p99 / etcd.p99,
                "≤ 2; 1",
                "etcd-watch-1",
            );
        }
        if let Some(fanout) = m("watch-n") {
            ratio(
                &format!("watch p99 from send, {} watchers (ms)", self.args.watchers),
                fanout.p99,
                "≤ 5 ms; 3 ms, 0 missed, 0 duplicated",
                "",
            );
        }
        if let (Some(holds), Some(slots)) = (m("holds"), m("etcd-holds")) {
            ratio(
                "holds granted/s / etcd slot reservation granted/s",
                holds.per_second / slots.per_second,
                "≥ 1.0; 2.0, exactly K every round",
                "etcd-holds",
            );
        }
        if let (Some(steady), Some(cas)) = (m("holds-steady"), m("etcd-steady")) {
            ratio(
                "steady holds/s / etcd compare-and-put/s",
                steady.per_second / cas.per_second,
                "≥ 1.0",
                "etcd-steady",
            );
        }
    }

    /// Overload, a flooding organisation and memory per stream.
    fn print_load_ratios(&self, ratios: &Ratios<'_>) {
        let m = |key: &str| ratios.m(key);
        let ratio = |label: &str, value: f64, target: &str, baseline: &str| {
            ratios.ratio(label, value, target, baseline)
        };
        if let (Some(overload), Some(backoff), Some(unloaded)) =
            (m("overload"), m("overload-backoff"), m("overload-unloaded"))
        {
            ratio(
                "overload goodput within D / unloaded, no back-off",
                overload.per_second / unloaded.per_second,
                "≥ 0.90; 0.95",
                "overload-unloaded",
            );
            ratio(
                "overload goodput within D / unloaded, back-off",
                backoff.per_second / unloaded.per_second,
                "(reported)",
                "overload-unloaded",
            );
            let refusals = median(self.refusal_p99_ms.lock().expect("refusals").clone());
            ratio(
                "overload refusal p99, no back-off (ms)",
                refusals,
                "< 5 ms; 1 ms",
                "",
            );
        }
        if let (Some(quiet), Some(flooded), Some(refusals)) = (
            m("flood-other-quiet"),
            m("flood-other-flooded"),
            m("flood-refusals"),
        ) {
            ratio(
                "flood: other organisation's search p99, flooded / quiet",
                flooded.p99 / quiet.p99,
                "≤ 2, no errors",
                "flood-other-quiet",
            );
            ratio(
                "flood: refusal p99 from intended send (ms)",
                refusals.p99,
                "< 10 ms",
                "",
            );
        }
        let memory = self.kib_per_stream.lock().expect("memory").clone();
        if !memory.is_empty() {
            ratio(
                "memory per idle watch stream (KiB, slope; largest run)",
                memory.into_iter().fold(0.0, f64::max),
                "≤ 8; 4",
                "",
            );
        }
    }
}

/// The medians of every scenario over the repeats.
fn print_medians(repeat: usize, runs: &Runs) {
    println!("\n## medians over {} run(s)", repeat.max(1));
    println!(
        "{:<16} {:>10} {:>10} {:>10}",
        "scenario", "per s", "p50 ms", "p99 ms"
    );
    for (key, reports) in runs {
        let x = medians(reports);
        println!(
            "{key:<16} {:>10.0} {:>10.2} {:>10.2}",
            x.per_second, x.p50, x.p99
        );
    }
}

/// Prints how much each baseline's rate moved between repeats, and
/// returns those that moved more than 15 %: every ratio against them is
/// noisy.
fn noisy_baselines(runs: &Runs) -> Vec<&'static str> {
    let baselines = [
        "echo-sized",
        "echo-100",
        "etcd-put",
        "etcd-holds",
        "etcd-steady",
        "etcd-watch-1",
        "overload-unloaded",
        "flood-other-quiet",
    ];
    let mut noisy = Vec::new();
    println!("\n## baselines between repeats (noisy above 15 %)");
    for key in baselines {
        if let Some(reports) = runs.get(key) {
            let rates: Vec<f64> = reports.iter().map(Report::per_second).collect();
            let spread = spread(&rates);
            let verdict = if spread > 0.15 {
                noisy.push(key);
                "NOISY"
            } else {
                "steady"
            };
            println!("{key:<20} {:>6.1} %  {verdict}", spread * 100.0);
        }
    }
    noisy
}
