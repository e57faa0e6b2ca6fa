//! The frame every Xinfang service runs in: layered configuration, the application
//! builder (HTTP API, outbox relay and consumer under one cancellation), health and
//! metrics endpoints, the injectable clock, and the command line.

pub mod cli;
pub mod clock;
pub mod config;
mod http;
mod startup;

pub use clock::Clock;
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
