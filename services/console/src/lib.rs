//! console: the pages people work in — sign-in, the registration desk, the unit's
//! workbench and case page, the supervision monitor, the leaders' dashboard, the
//! reception calendar and the petitioner's public pages. A backend-for-frontend: it
//! renders HTML and calls the five services with the signed-in user's token; it owns
//! no case data.

pub mod api;
pub mod config;
pub mod oidc;
pub mod page;
pub mod routes;
pub mod session;
pub mod ui;
pub mod users;

use std::net::TcpListener;
use std::path::PathBuf;

use actix_web::dev::Server;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpServer, web};
use tokio_util::sync::CancellationToken;

pub use config::Settings;

pub const SERVICE: &str = "console";

/// What every handler shares.
pub struct State {
    pub settings: Settings,
    pub api: api::Api,
    pub ui: ui::Ui,
    pub sealer: session::Sealer,
    pub verifier: xf_auth::Verifier,
    /// The development sign-in's signer, when it is enabled.
    pub signer: Option<xf_auth::Signer>,
    pub users: Vec<users::DemoUser>,
    pub assets_dir: PathBuf,
    /// The OIDC sign-in, when enabled.
    pub oidc: Option<oidc::Client>,
}

/// Where the pinned third-party files (ECharts, axe-core) are looked for.
pub fn assets_dir(s: &Settings) -> PathBuf {
    if !s.assets.dir.is_empty() {
        return PathBuf::from(&s.assets.dir);
    }
    let cache = std::env::var("XINFANG_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into()))
                .join(".cache/xinfang")
        });
    cache.join("console-assets")
}

impl State {
    pub fn new(s: Settings) -> anyhow::Result<State> {
        let api = api::Api::new(&s.services)?;
        let ui = ui::Ui::new(ui::Catalogue::parse(ui::ZH_CN)?)?;
        let key = session::Sealer::key_from(&s.session.key_file)?;
        let sealer = session::Sealer::new(&key, s.secure_cookies(), s.session.ttl_secs)?;
        let verifier = xf_auth::Verifier::configure(
            &s.auth.public_key_file,
            s.auth.algorithm,
            s.auth.jwks_url.as_deref(),
            s.auth.issuer.as_deref(),
            s.auth.audience.as_deref(),
        )?;
        let signer = if s.dev_signin.enabled {
            let pem = std::fs::read(&s.dev_signin.private_key_file).map_err(|e| {
                anyhow::anyhow!(
                    "dev_signin.private_key_file {}: {e}",
                    s.dev_signin.private_key_file
                )
            })?;
            Some(xf_auth::Signer::from_pem(&pem, s.auth.algorithm)?)
        } else {
            None
        };
        let users = users::demo_users(&s.dev_signin.county);
        let assets_dir = assets_dir(&s);
        let oidc = oidc::Client::new(&s)?;
        Ok(State {
            oidc,
            api,
            ui,
            sealer,
            verifier,
            signer,
            users,
            assets_dir,
            settings: s,
        })
    }
}

/// The console, bound to its port, not yet serving.
pub struct Console {
    port: u16,
    server: Server,
}

impl Console {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `cancel` fires, then stops gracefully.
    pub async fn run_until_stopped(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let stop = async move {
            cancel.cancelled().await;
            handle.stop(true).await;
        };
        let (r, ()) = tokio::join!(self.server, stop);
        r?;
        Ok(())
    }
}

/// Binds the port (0 picks a free one) and builds the server.
pub fn build(s: Settings) -> anyhow::Result<Console> {
    let listener = TcpListener::bind((s.http.host.as_str(), s.http.port))?;
    let port = listener.local_addr()?.port();
    let workers = s.http.workers;
    let redirect_path = s.oidc.redirect_path.clone();
    let state = web::Data::new(State::new(s)?);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::FormConfig::default().limit(256 * 1024))
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin"))
                    .add(("X-Frame-Options", "DENY"))
                    .add((
                        "Content-Security-Policy",
                        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                         img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
                    )),
            )
            .configure(|cfg| routes::configure(cfg, &redirect_path))
    })
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(Console {
        port,
        server: server.run(),
    })
}
