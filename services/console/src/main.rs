use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "xf-console", about = "The Xinfang web console")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the pages (default).
    Serve,
    /// Load and validate the configuration, print it, and exit.
    CheckConfig,
    /// Print the console's address and a signed-in link for each demo user.
    DevLinks,
    /// Print every environment variable the console accepts, with required|optional.
    ConfigKeys,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::ConfigKeys) = cli.command {
        return match xf_console::config::accepted_keys() {
            Ok(keys) => {
                for k in keys {
                    println!("{}\toptional", xf_console::config::env_name(&k));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match xf_console::config::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::CheckConfig) = cli.command {
        println!(
            "{}",
            serde_json::to_string_pretty(&settings).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if let Some(Command::DevLinks) = cli.command {
        print_links(&settings);
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _guard = {
        let _in = rt.enter();
        match xf_telemetry::init(xf_console::SERVICE, &settings.telemetry) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let result = rt.block_on(async move {
        let app = xf_console::build(settings)?;
        tracing::info!(
            service = xf_console::SERVICE,
            port = app.port(),
            "listening"
        );
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            c.cancel();
        });
        #[cfg(unix)]
        {
            let c = cancel.clone();
            tokio::spawn(async move {
                if let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                {
                    term.recv().await;
                    c.cancel();
                }
            });
        }
        app.run_until_stopped(cancel).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_links(s: &xf_console::Settings) {
    let base = s.http.public_url.trim_end_matches('/');
    let cat = xf_console::ui::Catalogue::parse(xf_console::ui::ZH_CN).unwrap_or_default();
    println!("  console       {base}/   (public: /lookup, /submit, /calendar)");
    if !s.dev_signin.enabled {
        println!("  (the development sign-in is off: dev_signin.enabled)");
        return;
    }
    println!("  signed in as (development sign-in, one link per demo role):");
    for u in xf_console::users::demo_users(&s.dev_signin.county) {
        println!(
            "    {:<14} {:<24} {base}/signin/dev/{}",
            u.roles.join(","),
            cat.t(u.label),
            u.id
        );
    }
}
