//! The hub replicas under test, started and bounced as processes, and the faults struck at them.

use super::*;

/// The replicas, their addresses, and what the clients need to connect.
pub(super) struct Cluster {
    pub(super) binary: PathBuf,
    pub(super) config: PathBuf,
    pub(super) ca: String,
    pub(super) pki: PathBuf,
    pub(super) replicas: Mutex<Vec<Option<(Child, String)>>>,
}

impl Cluster {
    /// A live replica's address, turning over by `n`.
    pub(super) fn address(&self, n: usize) -> Option<String> {
        let replicas = self.replicas.lock().unwrap();
        let live: Vec<&String> = replicas.iter().flatten().map(|(_, a)| a).collect();
        (!live.is_empty()).then(|| live[n % live.len()].clone())
    }

    pub(super) async fn connect(&self, org: &str, n: usize) -> anyhow::Result<SpilClient> {
        let address = self.address(n).context("no replica is up")?;
        let identity = Identity::from_files(
            self.pki.join("orgs").join(format!("{org}.pem")),
            self.pki.join("orgs").join(format!("{org}-key.pem")),
        )?;
        Ok(SpilClient::connect(&address, &self.ca, Some(identity)).await?)
    }

    pub(super) async fn start(&self, index: usize) -> anyhow::Result<()> {
        let (child, address) = serve(&self.binary, &self.config).await?;
        self.replicas.lock().unwrap()[index] = Some((child, address));
        Ok(())
    }

    /// Stops replica `index` with `signal`, waits for it, starts it again.
    pub(super) async fn bounce(&self, index: usize, signal: &str) -> anyhow::Result<()> {
        let taken = self.replicas.lock().unwrap()[index].take();
        if let Some((mut child, _)) = taken {
            let pid = child.id().context("a running replica")?.to_string();
            std::process::Command::new("kill")
                .args([signal, &pid])
                .status()?;
            tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .context("the replica did not stop")??;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.start(index).await
    }

    pub(super) async fn stop_all(&self) {
        let replicas: Vec<_> = self.replicas.lock().unwrap().drain(..).flatten().collect();
        for (mut child, _) in replicas {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        }
    }
}

/// Starts `spil-hub serve` and returns it with its announced address.
pub(super) async fn serve(binary: &Path, config: &Path) -> anyhow::Result<(Child, String)> {
    let mut child = hub_command(binary)
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("failed to start spil-hub")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(address) = line.strip_prefix("spil-hub listening on ") {
                let port = address.rsplit(':').next().unwrap_or_default().to_owned();
                return Ok(format!("https://localhost:{port}"));
            }
        }
        anyhow::bail!("spil-hub exited before it listened")
    })
    .await
    .context("spil-hub did not listen within a minute")??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, address))
}

/// The hub binary with no `SPIL_` variables of ours (it refuses unknown ones).
pub(super) fn hub_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    #[allow(clippy::disallowed_methods)] // cleaning the child's environment
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("SPIL_")) {
        command.env_remove(name);
    }
    command
}

pub(super) fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("psql")
        .args([url, "-qc", sql])
        .stdout(Stdio::null())
        .status()
        .context("psql")?;
    anyhow::ensure!(status.success(), "psql: {sql}");
    Ok(())
}

/// Strikes the faults at even intervals over the run; returns when it ends.
pub(super) async fn strike(
    shared: &Shared,
    args: &Args,
    started: Instant,
) -> Vec<(Duration, String)> {
    let run = Duration::from_secs(args.seconds);
    let mut struck = Vec::new();
    let count = if args.faults.is_empty() {
        0
    } else {
        args.fault_count
    };
    for n in 0..count {
        let at = run * (n as u32 + 1) / (count as u32 + 1);
        tokio::time::sleep_until((started + at).into()).await;
        let fault = args.faults[n % args.faults.len()];
        let replica = n % args.replicas.max(1);
        let result = match fault {
            Fault::Kill9 => shared
                .cluster
                .bounce(replica, "-KILL")
                .await
                .map(|()| format!("kill -9 of replica {replica}, restarted")),
            Fault::Term => shared
                .cluster
                .bounce(replica, "-TERM")
                .await
                .map(|()| format!("SIGTERM of replica {replica}, restarted")),
            Fault::Database => database_outage(args, &shared.database).await,
            Fault::Cut => {
                for cut in &shared.cut {
                    cut.store(true, Ordering::SeqCst);
                }
                Ok("every client's connection cut mid-operation".to_owned())
            }
        };
        struck.push((
            started.elapsed(),
            result.unwrap_or_else(|error| format!("{fault:?} failed: {error:#}")),
        ));
    }
    tokio::time::sleep_until((started + run).into()).await;
    struck
}

/// The run's database refuses connections for three seconds, and the open
/// ones are dropped.
pub(super) async fn database_outage(args: &Args, database: &str) -> anyhow::Result<String> {
    let url = args
        .postgres_url
        .as_deref()
        .context("a database outage needs PostgreSQL")?;
    psql(
        url,
        &format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false"),
    )?;
    psql(
        url,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
        ),
    )?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    psql(
        url,
        &format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true"),
    )?;
    Ok("the database refused connections for 3 s and dropped the open ones".to_owned())
}
