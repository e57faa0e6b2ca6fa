//! A service's real binary as a child process of the test, configured for a [`Ctx`],
//! with its log output kept for inspection.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::{Ctx, eventually};

/// The built binary of a service (`xf-<name>` in the caller's target folder: beside a
/// binary in `target/<profile>/`, or above a test in `target/<profile>/deps/`).
pub fn service_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let here = exe
        .parent()
        .unwrap_or_else(|| panic!("no folder above {}", exe.display()));
    let file = format!("xf-{name}");
    // target/<profile>/deps/<test> → target/<profile>/xf-<name>
    let bin = match here.join(&file) {
        b if b.is_file() => b,
        _ => here
            .parent()
            .unwrap_or_else(|| panic!("no target folder above {}", exe.display()))
            .join(&file),
    };
    assert!(
        bin.is_file(),
        "{} is not built: run `cargo build --workspace --bins`",
        bin.display()
    );
    bin
}

/// A running service binary.
pub struct Process {
    pub name: String,
    pub base_url: String,
    pub port: u16,
    child: tokio::process::Child,
    /// Everything it wrote, drained as it comes (a full pipe would block it).
    output: Arc<Mutex<Vec<u8>>>,
    drains: Vec<tokio::task::JoinHandle<()>>,
}

/// Copies a pipe into `out` until it closes.
fn drain(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    out: Arc<Mutex<Vec<u8>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&buf[..n]);
        }
    })
}

impl Process {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Kills it with SIGKILL (a crash: no shutdown, transactions in flight cut off),
    /// waits until it is gone and returns everything it logged.
    pub async fn kill(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        for d in self.drains.drain(..) {
            let _ = d.await;
        }
        self.log()
    }

    /// What it logged so far (stderr and stdout).
    pub fn log(&self) -> String {
        let out = self.output.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Whether the process has exited (crashed or stopped by itself).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Stops it with SIGTERM and returns everything it logged (stderr and stdout).
    pub async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not stop on SIGTERM", self.name))
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        for d in self.drains.drain(..) {
            let _ = d.await;
        }
        let out = self.output.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A free loopback port (for a service that must come back on the same one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}

impl Ctx {
    /// Starts the real binary of `service` on a free port with this context's
    /// settings (plus `extra`, as `section.key` pairs), and waits until it answers.
    pub async fn start_binary(&self, service: &str, extra: &[(&str, &str)]) -> Process {
        self.start_binary_on(service, free_port(), extra).await
    }

    /// Like [`Ctx::start_binary`], on `port` (a restarted service where its peers
    /// expect it).
    pub async fn start_binary_on(
        &self,
        service: &str,
        port: u16,
        extra: &[(&str, &str)],
    ) -> Process {
        let mut cmd = tokio::process::Command::new(service_binary(service));
        cmd.arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let env = |k: &str| format!("XF_{}", k.replace('.', "__").to_ascii_uppercase());
        for (k, v) in self.overrides(service) {
            cmd.env(env(&k), v);
        }
        for (k, v) in extra {
            cmd.env(env(k), v);
        }
        cmd.env("XF_HTTP__PORT", port.to_string());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{service} does not start: {e}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut drains = Vec::new();
        if let Some(p) = child.stderr.take() {
            drains.push(drain(p, output.clone()));
        }
        if let Some(p) = child.stdout.take() {
            drains.push(drain(p, output.clone()));
        }
        let base_url = format!("http://127.0.0.1:{port}");
        let http = crate::http();
        let probe = format!("{base_url}/health/livez");
        eventually(
            &format!("{service} answers"),
            Duration::from_secs(60),
            || async {
                http.get(&probe)
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            },
        )
        .await;
        Process {
            name: service.to_owned(),
            base_url,
            port,
            child,
            output,
            drains,
        }
    }
}
