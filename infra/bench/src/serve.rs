//! A `portage serve` process for the benchmarks: started on a free port
//! over a fresh data directory with a configuration, its dev API key read,
//! stopped (and its directory removed) when dropped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

/// The `portage serve` process, stopped when dropped.
pub(crate) struct Serve {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    /// The dev `admin` key.
    pub(crate) key: String,
    data: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

impl Serve {
    /// Starts `portage` with `config` as its portage.toml and `env` beside.
    pub(crate) async fn start(portage: &Path, config: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let data = std::env::temp_dir().join(format!("portage-bench-{}", std::process::id()));
        std::fs::create_dir_all(&data)?;
        std::fs::write(data.join("portage.toml"), config)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = std::process::Command::new(portage)
            .arg("--data")
            .arg(&data)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("PORTAGE_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", portage.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status().is_success()) {
                let key = std::fs::read_to_string(data.join("dev-api-key"))?.trim().to_owned();
                return Ok(Self { child, base, key, data });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("portage serve did not answer /health")
    }

    /// CPU seconds the process has used (user and system).
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name (which may hold spaces) in parentheses.
        let after = stat.rsplit_once(')').context("stat format")?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        Ok(ticks / per_second)
    }
}
