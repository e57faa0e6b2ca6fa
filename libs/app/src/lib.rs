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
