//! A Postgres cluster of the test's own, in a temp folder on a free loopback port, that a
//! fault test may stop and start (crash it, restart it) without touching the shared
//! server on 5432 that other tests and the demo use.
//!
//! It is made with the server binaries of the Debian `postgresql` package that
//! `scripts/stack/postgres.sh` installs (`/usr/lib/postgresql/<version>/bin`, or
//! `XINFANG_PG_BINDIR`): `initdb` with trust authentication on loopback only, run as the
//! `postgres` user when the test runs as root (the server refuses to run as root).
//! The cluster is stopped and its folder removed on drop, also when the test panics; a
//! cluster left behind by a test process that was killed is removed by the next start.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

/// The role and password the URL uses (a superuser, as on the shared test database).
const ROLE: &str = "xinfang";
/// Prefix of the temp folders, for finding those of killed test processes.
const PREFIX: &str = "xf-pg-";

/// How the server is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A crash: every backend killed at once, no checkpoint; the next start recovers
    /// from the write-ahead log (`pg_ctl stop -m immediate`).
    Crash,
    /// A clean shutdown: clients disconnected, a checkpoint written (`-m fast`).
    Clean,
}

/// A running (or stopped) private Postgres.
pub struct TestPostgres {
    pub port: u16,
    pub database: String,
    dir: PathBuf,
    bindir: PathBuf,
    running: bool,
}

/// The folder with `initdb` and `pg_ctl`.
fn bindir() -> anyhow::Result<PathBuf> {
    if let Ok(d) = std::env::var("XINFANG_PG_BINDIR") {
        return Ok(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let v: u32 = e.file_name().to_str()?.parse().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").is_file().then_some((v, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().map(|(_, b)| b).ok_or_else(|| {
        anyhow::anyhow!(
            "no Postgres server binaries under /usr/lib/postgresql/*/bin (run \
             `bash scripts/stack/postgres.sh ensure`, or set XINFANG_PG_BINDIR)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as the `postgres` user when we are root.
fn server_command(program: &Path) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    };
    // The postgres user may not enter the test's working directory.
    c.current_dir("/");
    c
}

fn run(mut c: Command, what: &str) -> anyhow::Result<()> {
    let out = c.stdin(Stdio::null()).output()?;
    anyhow::ensure!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Stops and removes the clusters of test processes that no longer run.
fn remove_orphans(bindir: &Path) {
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = e.path();
        let owner: Option<u32> = std::fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        if owner.is_some_and(pid_alive) {
            continue;
        }
        let mut c = server_command(&bindir.join("pg_ctl"));
        c.arg("-D")
            .arg(dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

impl TestPostgres {
    /// Creates a cluster with database `database` owned by the superuser `xinfang`, and
    /// starts it.
    pub async fn start(database: &str) -> anyhow::Result<TestPostgres> {
        anyhow::ensure!(
            xf_store::valid_schema(database),
            "database name {database:?} must be a lower-case identifier"
        );
        let bindir = bindir()?;
        remove_orphans(&bindir);
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("owner.pid"), std::process::id().to_string())?;
        let mut pg = TestPostgres {
            port,
            database: database.to_owned(),
            dir,
            bindir,
            running: false,
        };
        let (dir, bindir) = (pg.dir.clone(), pg.bindir.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            if is_root() {
                run(
                    {
                        let mut c = Command::new("chown");
                        c.arg("postgres:postgres").arg(&dir);
                        c
                    },
                    "chown of the cluster folder to postgres",
                )?;
            }
            let mut c = server_command(&bindir.join("initdb"));
            c.arg("-D").arg(dir.join("data")).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "-N",
            ]);
            run(c, "initdb")?;
            let conf = format!(
                "\n# a test's own cluster (xf-testkit)\n\
                 listen_addresses = '127.0.0.1'\n\
                 port = {port}\n\
                 unix_socket_directories = '{}'\n\
                 max_connections = 200\n\
                 log_min_messages = warning\n",
                dir.display()
            );
            use std::io::Write as _;
            std::fs::OpenOptions::new()
                .append(true)
                .open(dir.join("data/postgresql.conf"))?
                .write_all(conf.as_bytes())?;
            Ok(())
        })
        .await??;
        pg.resume().await?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
            .await?;
        // One statement each: CREATE DATABASE refuses to run in a transaction block.
        for sql in [
            format!("CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD '{ROLE}'"),
            format!("CREATE DATABASE {database} OWNER {ROLE}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&admin)
                .await?;
        }
        admin.close().await;
        Ok(pg)
    }

    /// The URL of the test database (superuser `xinfang`), for [`crate::Ctx::with`].
    pub fn url(&self) -> String {
        format!(
            "postgres://{ROLE}:{ROLE}@127.0.0.1:{}/{}",
            self.port, self.database
        )
    }

    /// The folder of the cluster (its server log is `postgres.log` there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts the server (again) on the same port and data; returns once it accepts
    /// connections.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        let mut c = server_command(&self.bindir.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-w", "-t", "120", "start"]);
        tokio::task::spawn_blocking(move || run(c, "pg_ctl start")).await??;
        self.running = true;
        Ok(())
    }

    /// Stops the server (the data stays for [`TestPostgres::resume`]).
    pub async fn stop(&mut self, how: Stop) -> anyhow::Result<()> {
        let mode = match how {
            Stop::Crash => "immediate",
            Stop::Clean => "fast",
        };
        let mut c = server_command(&self.bindir.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", mode, "-w", "-t", "120", "stop"]);
        tokio::task::spawn_blocking(move || run(c, "pg_ctl stop")).await??;
        self.running = false;
        Ok(())
    }

    /// Stops the server and waits `down`, then starts it again.
    pub async fn restart(&mut self, how: Stop, down: Duration) -> anyhow::Result<()> {
        self.stop(how).await?;
        tokio::time::sleep(down).await;
        self.resume().await
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.running {
            let mut c = server_command(&self.bindir.join("pg_ctl"));
            c.arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"]);
            let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
