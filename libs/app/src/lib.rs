//! The frame every Xinfang service runs in: layered configuration, the application
//! builder (HTTP API, outbox relay and consumer under one cancellation), health and
//! metrics endpoints, the injectable clock, and the command line.

pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
mod http;
mod startup;

pub use clock::Clock;

/// The service's OpenAPI document at `GET /openapi.json`: its own paths and the frame's
/// (health, metrics).
pub mod openapi {
    use utoipa::OpenApi;

    /// The document `D` with the frame's endpoints merged in.
    pub fn document<D: OpenApi>() -> utoipa::openapi::OpenApi {
        with_frame(D::openapi())
    }

    /// A service's document with the frame's endpoints merged in.
    pub fn with_frame(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
        doc.merge(crate::http::FrameDoc::openapi());
        doc.merge(OpenApiDoc::openapi());
        doc
    }

    #[derive(OpenApi)]
    #[openapi(paths(openapi_json))]
    struct OpenApiDoc;

    /// This document.
    #[utoipa::path(get, path = "/openapi.json", tag = "health",
        responses((status = 200, description = "The OpenAPI 3.1 document of this service")))]
    #[allow(dead_code)]
    fn openapi_json() {}

    /// Serves [`document`] as `GET /openapi.json`.
    pub fn route<D: OpenApi>(cfg: &mut actix_web::web::ServiceConfig) {
        serve(cfg, D::openapi());
    }

    /// Serves `doc`, with the frame's endpoints, as `GET /openapi.json`.
    pub fn serve(cfg: &mut actix_web::web::ServiceConfig, doc: utoipa::openapi::OpenApi) {
        let doc = with_frame(doc);
        cfg.route(
            "/openapi.json",
            actix_web::web::get().to(move || {
                let doc = doc.clone();
                async move { actix_web::HttpResponse::Ok().json(doc) }
            }),
        );
    }
}
pub use config::{ConfigError, HttpSettings, Keys, Settings, Validate};
pub use startup::{Application, ServiceSpec};

/// Declares a service crate's identity: `SERVICE`, `PORT`, `OWN_CONFIG` (its
/// `config/base.toml`), `KEYS`, `migrator()` (its `migrations/`) and `binary()`.
#[macro_export]
macro_rules! service {
    (name: $name:expr, port: $port:expr, required: [$($r:expr),* $(,)?] $(,)?) => {
        pub const SERVICE: &str = $name;
        pub const PORT: u16 = $port;
        pub const OWN_CONFIG: &str =
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/base.toml"));
        pub const KEYS: $crate::Keys = $crate::Keys {
            required: &[$($r),*],
            optional: &[],
        };

        /// The service's embedded migrations.
        pub fn migrator() -> ::sqlx::migrate::Migrator {
            ::sqlx::migrate!("./migrations")
        }

        /// What the command line needs to know about this service.
        pub fn binary() -> $crate::cli::Binary {
            $crate::cli::Binary {
                name: SERVICE,
                port: PORT,
                own_config: OWN_CONFIG,
                keys: KEYS,
                migrator,
            }
        }
    };
}
