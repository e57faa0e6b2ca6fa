//! The command line every service binary has:
//! `serve` (default), `migrate`, `config-keys`, `check-config`.

use std::future::Future;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::de::DeserializeOwned;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;
use xf_bus::Handler;

use crate::config::{self, Keys, Settings, Validate};
use crate::startup::Application;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API, the outbox relay and the event consumer (default).
    Serve,
    /// Apply the schema migrations and exit.
    Migrate,
    /// Print every environment variable this service accepts, with required|optional.
    ConfigKeys,
    /// Load and validate the configuration, print it with secrets redacted, and exit.
    CheckConfig,
}

/// What a service binary passes to [`run`].
pub struct Binary {
    pub name: &'static str,
    /// Default HTTP port.
    pub port: u16,
    /// The service's own config sections (TOML), appended to the common defaults.
    pub own_config: &'static str,
    pub keys: Keys,
    pub migrator: fn() -> Migrator,
}

impl Binary {
    /// The compiled-in defaults.
    pub fn base(&self) -> String {
        config::base_toml(self.name, self.port, self.own_config)
    }
    /// Settings from the defaults and explicit overrides (tests, in-process tools).
    pub fn settings<X: DeserializeOwned + Validate>(
        &self,
        overrides: &[(String, String)],
    ) -> Result<Settings<X>, config::ConfigError> {
        config::load_with(&self.base(), self.keys, overrides)
    }
}

/// Parses the command line and runs the chosen command.
pub fn run<X, H, F, Fut>(bin: Binary, start: F) -> ExitCode
where
    X: DeserializeOwned + Validate + serde::Serialize,
    H: Handler,
    F: FnOnce(Settings<X>) -> Fut,
    Fut: Future<Output = anyhow::Result<Application<H>>>,
{
    let cli = Cli::parse();
    let base = bin.base();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::ConfigKeys = command {
        return match config::accepted_keys(&base, bin.keys) {
            Ok(keys) => {
                for (k, required) in keys {
                    let r = if required { "required" } else { "optional" };
                    println!("{}\t{r}", config::env_name(&k));
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }
    let settings: Settings<X> = match config::load(&base, bin.keys) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Command::CheckConfig = command {
        return match serde_json::to_string_pretty(&settings) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    // The OTLP exporter's channel lives on the runtime, so it is made inside it; the
    // guard is dropped (flushing spans) before the runtime.
    let _guard = {
        let _in_runtime = rt.enter();
        match xf_telemetry::init(bin.name, &settings.telemetry) {
            Ok(g) => g,
            Err(e) => return fail(&e),
        }
    };
    let result = rt.block_on(async move {
        match command {
            Command::Migrate => {
                let pool = xf_store::pool(&settings.database)?;
                xf_store::migrate(&pool, &settings.database.schema, (bin.migrator)()).await?;
                tracing::info!(service = bin.name, schema = %settings.database.schema, "migrations applied");
                Ok(())
            }
            _ => {
                let app = start(settings).await?;
                tracing::info!(service = bin.name, port = app.port(), "listening");
                let cancel = CancellationToken::new();
                tokio::spawn(shutdown_on_signal(cancel.clone()));
                app.run_until_stopped(cancel).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{} failed", bin.name);
            fail(&e)
        }
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

async fn shutdown_on_signal(cancel: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        if let (Ok(mut term), Ok(mut int)) = (term, int) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        } else {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("signal received; shutting down");
    cancel.cancel();
}
