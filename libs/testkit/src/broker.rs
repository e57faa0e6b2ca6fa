//! A private broker process for fault tests (stop it, start it again).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A `tansu` broker on a free loopback port with durable storage in a temp folder.
pub struct TestBroker {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn tansu_bin() -> String {
    if let Ok(b) = std::env::var("XINFANG_TANSU_BIN") {
        return b;
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cache = std::env::var("XINFANG_CACHE").unwrap_or_else(|_| format!("{home}/.cache/xinfang"));
    let cached = format!("{cache}/tansu-0.6.0/bin/tansu");
    if std::path::Path::new(&cached).exists() {
        cached
    } else {
        "tansu".into()
    }
}

impl TestBroker {
    pub async fn start() -> anyhow::Result<TestBroker> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("xf-broker-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut b = TestBroker {
            port,
            dir,
            child: None,
        };
        b.resume().await?;
        Ok(b)
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and storage.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(self.dir.join("broker.log"))?;
        // tansu resolves the sqlite path against its working directory and reads
        // settings from the environment and a .env file: run it from / with none.
        let child = Command::new(tansu_bin())
            .current_dir("/")
            .env_remove("LISTENER_URL")
            .env_remove("ADVERTISED_LISTENER_URL")
            .env_remove("STORAGE_ENGINE")
            .env_remove("CLUSTER_ID")
            .env_remove("SCHEMA_REGISTRY")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env("RUST_LOG", "warn")
            .arg("broker")
            .arg("--cluster-id")
            .arg("xinfang-test")
            .arg("--listener-url")
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .arg("--storage-engine")
            .arg(format!("sqlite://{}/tansu.db", self.dir.display()))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return self.index().await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!(
            "the test broker did not listen on port {} within 10 s",
            self.port
        )
    }

    /// Adds the index tansu's sqlite storage lacks, as `scripts/stack/broker.sh` does
    /// (see `scripts/stack/tansu-sqlite.sql`); tansu has created its tables once it listens.
    async fn index(&self) -> anyhow::Result<()> {
        const SQL: &str = include_str!("../../../scripts/stack/tansu-sqlite.sql");
        let db = self.dir.join("tansu.db");
        for _ in 0..50 {
            let out = Command::new("sqlite3")
                .arg("-cmd")
                .arg(".timeout 30000")
                .arg(&db)
                .arg("select count(*) from sqlite_master where name = 'header'")
                .output()
                .await?;
            if String::from_utf8_lossy(&out.stdout).trim() == "1" {
                let mut child = Command::new("sqlite3")
                    .arg("-cmd")
                    .arg(".timeout 30000")
                    .arg(&db)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()?;
                if let Some(mut stdin) = child.stdin.take() {
                    use tokio::io::AsyncWriteExt as _;
                    stdin.write_all(SQL.as_bytes()).await?;
                }
                let out = child.wait_with_output().await?;
                anyhow::ensure!(
                    out.status.success(),
                    "sqlite3 could not index the broker's storage: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!("the test broker's storage has no header table after 10 s")
    }

    /// Stops the broker process (storage is kept).
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
