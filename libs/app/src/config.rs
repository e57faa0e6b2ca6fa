//! Layered configuration: the service's compiled-in `base.toml`, then an optional file
//! named by `XINFANG_CONFIG_FILE`, then `XF_<SECTION>__<KEY>` environment variables.
//! Unknown keys are refused, values are validated, and secrets are never printed.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use xf_bus::KafkaSettings;
use xf_store::DatabaseSettings;
use xf_telemetry::TelemetrySettings;

/// Settings every service has, plus the service's own sections `X`.
#[derive(Debug, Clone, Serialize)]
pub struct Settings<X> {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub auth: AuthSettings,
    pub telemetry: TelemetrySettings,
    pub clock: ClockSettings,
    #[serde(flatten)]
    pub ext: X,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    /// Largest request body accepted (bytes); larger ones get 413.
    pub max_body_bytes: usize,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// PEM file with the identity provider's public key.
    pub public_key_file: String,
    /// `EdDSA` or `RS256`.
    pub algorithm: xf_auth::KeyAlgorithm,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
    /// The identity provider's JWK Set (its `jwks_uri`): tokens naming a `kid` are
    /// checked against it, fetched at start and again on an unknown `kid`.
    #[serde(default)]
    pub jwks_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// Shifts the service's clock (seconds); 0 in production. For demos and drills.
    pub offset_secs: i64,
}

/// Validation of a service's own sections.
pub trait Validate {
    /// Every problem as (key, message); empty when valid.
    fn problems(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

impl Validate for () {}

/// The keys a service accepts beyond those with defaults in its `base.toml`.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    /// Keys that must be given (no default), e.g. `database.url`.
    pub required: &'static [&'static str],
    /// Optional keys without a default, e.g. `telemetry.otlp_endpoint`.
    pub optional: &'static [&'static str],
}

/// Keys every service requires or accepts without default.
pub const COMMON_REQUIRED: &[&str] = &["database.url", "auth.public_key_file"];
pub const COMMON_OPTIONAL: &[&str] = &[
    "telemetry.otlp_endpoint",
    "auth.issuer",
    "auth.audience",
    "auth.jwks_url",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("unknown configuration keys (refused): {}", .0.join(", "))]
    Unknown(Vec<String>),
    #[error("missing required configuration keys: {}", .0.join(", "))]
    Missing(Vec<String>),
    #[error("invalid configuration: {}", .0.iter().map(|(k, m)| format!("{k} ({}): {m}", env_name(k))).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
}

const COMMON_BASE: &str = include_str!("base.toml");

/// The compiled-in defaults of a service: the common sections for `service` on
/// `port`, followed by the service's own sections.
pub fn base_toml(service: &str, port: u16, own: &str) -> String {
    format!(
        "{}\n{own}",
        COMMON_BASE
            .replace("@SERVICE@", service)
            .replace("@PORT@", &port.to_string())
    )
}

/// `http.port` → `XF_HTTP__PORT`.
pub fn env_name(key: &str) -> String {
    format!("XF_{}", key.replace('.', "__").to_ascii_uppercase())
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

fn base_keys(base: &str) -> Result<BTreeSet<String>, ConfigError> {
    let v: serde_json::Value = ::config::Config::builder()
        .add_source(::config::File::from_str(base, ::config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| ConfigError::Load(format!("base.toml: {e}")))?;
    let mut out = BTreeSet::new();
    flatten("", &v, &mut out);
    Ok(out)
}

/// Every key the service accepts, with whether it is required.
pub fn accepted_keys(base: &str, keys: Keys) -> Result<Vec<(String, bool)>, ConfigError> {
    let mut all: Vec<(String, bool)> = base_keys(base)?.into_iter().map(|k| (k, false)).collect();
    for k in COMMON_REQUIRED.iter().chain(keys.required) {
        all.push(((*k).to_owned(), true));
    }
    for k in COMMON_OPTIONAL.iter().chain(keys.optional) {
        all.push(((*k).to_owned(), false));
    }
    all.sort();
    all.dedup_by(|a, b| a.0 == b.0);
    Ok(all)
}

/// Loads and validates the settings from the layers described above.
pub fn load<X>(base: &str, keys: Keys) -> Result<Settings<X>, ConfigError>
where
    X: DeserializeOwned + Validate,
{
    let mut b = ::config::Config::builder()
        .add_source(::config::File::from_str(base, ::config::FileFormat::Toml));
    if let Ok(path) = std::env::var("XINFANG_CONFIG_FILE") {
        b = b.add_source(::config::File::with_name(&path).required(true));
    }
    b = b.add_source(
        ::config::Environment::with_prefix("XF")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true),
    );
    let cfg = b.build().map_err(|e| ConfigError::Load(e.to_string()))?;
    from_config(cfg, base, keys)
}

/// Loads the settings from the defaults and explicit overrides only (no file, no
/// environment): for tests and tools that start a service in-process.
pub fn load_with<X>(
    base: &str,
    keys: Keys,
    overrides: &[(String, String)],
) -> Result<Settings<X>, ConfigError>
where
    X: DeserializeOwned + Validate,
{
    let mut b = ::config::Config::builder()
        .add_source(::config::File::from_str(base, ::config::FileFormat::Toml));
    for (k, v) in overrides {
        b = b
            .set_override(k.as_str(), v.as_str())
            .map_err(|e| ConfigError::Load(e.to_string()))?;
    }
    let cfg = b.build().map_err(|e| ConfigError::Load(e.to_string()))?;
    from_config(cfg, base, keys)
}

fn from_config<X>(cfg: ::config::Config, base: &str, keys: Keys) -> Result<Settings<X>, ConfigError>
where
    X: DeserializeOwned + Validate,
{
    let raw: serde_json::Value = cfg
        .clone()
        .try_deserialize()
        .map_err(|e| ConfigError::Load(e.to_string()))?;
    let mut given = BTreeSet::new();
    flatten("", &raw, &mut given);
    let accepted: BTreeSet<String> = accepted_keys(base, keys)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let unknown: Vec<String> = given
        .iter()
        .filter(|k| !accepted.contains(*k))
        .map(|k| format!("{k} ({})", env_name(k)))
        .collect();
    if !unknown.is_empty() {
        return Err(ConfigError::Unknown(unknown));
    }
    let missing: Vec<String> = COMMON_REQUIRED
        .iter()
        .chain(keys.required)
        .filter(|k| !given.contains(**k))
        .map(|k| format!("{k} ({})", env_name(k)))
        .collect();
    if !missing.is_empty() {
        return Err(ConfigError::Missing(missing));
    }
    // Common and own sections are read separately (no `flatten`), so that values
    // given as text ("40") convert to the field's type wherever they are.
    #[derive(Deserialize)]
    struct Common {
        http: HttpSettings,
        database: DatabaseSettings,
        kafka: KafkaSettings,
        auth: AuthSettings,
        telemetry: TelemetrySettings,
        clock: ClockSettings,
    }
    let c: Common = cfg
        .clone()
        .try_deserialize()
        .map_err(|e| ConfigError::Load(e.to_string()))?;
    let ext: X = cfg
        .try_deserialize()
        .map_err(|e| ConfigError::Load(e.to_string()))?;
    let s = Settings {
        http: c.http,
        database: c.database,
        kafka: c.kafka,
        auth: c.auth,
        telemetry: c.telemetry,
        clock: c.clock,
        ext,
    };
    let problems = s.problems();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok(s)
}

impl<X: Validate> Settings<X> {
    /// Every problem of the common and the service's own sections.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut p = self.kafka.problems();
        if self.http.max_body_bytes < 1024 {
            p.push(("http.max_body_bytes".into(), "must be at least 1024".into()));
        }
        if !xf_store::valid_schema(&self.database.schema) {
            p.push((
                "database.schema".into(),
                "must be a lower-case identifier (a-z, 0-9, _)".into(),
            ));
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            p.push((
                "database.max_connections".into(),
                "must be 1 to 1000".into(),
            ));
        }
        let jwks = self
            .auth
            .jwks_url
            .as_deref()
            .filter(|u| !u.trim().is_empty());
        if self.auth.public_key_file.trim().is_empty() && jwks.is_none() {
            p.push((
                "auth.public_key_file".into(),
                "must name a PEM file (or set auth.jwks_url)".into(),
            ));
        }
        if let Some(u) = jwks
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            p.push((
                "auth.jwks_url".into(),
                "must be an https:// (or http://) URL".into(),
            ));
        }
        p.extend(self.ext.problems());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> String {
        base_toml("intake", 8081, "[extra]\nname = \"x\"\n")
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Extra {
        name: String,
    }
    #[derive(Debug, Deserialize)]
    struct Ext {
        extra: Extra,
        #[serde(default)]
        #[allow(dead_code)]
        numbers: Option<Numbers>,
    }
    #[derive(Debug, Deserialize)]
    struct Numbers {
        #[allow(dead_code)]
        n: u32,
    }
    impl Validate for Ext {
        fn problems(&self) -> Vec<(String, String)> {
            if self.extra.name.is_empty() {
                vec![("extra.name".into(), "must not be empty".into())]
            } else {
                vec![]
            }
        }
    }
    const KEYS: Keys = Keys {
        required: &[],
        optional: &[],
    };

    fn with(overrides: &[(&str, &str)]) -> Result<Settings<Ext>, ConfigError> {
        let mut b = ::config::Config::builder().add_source(::config::File::from_str(
            &base(),
            ::config::FileFormat::Toml,
        ));
        for (k, v) in overrides {
            b = b.set_override(*k, *v).expect("override");
        }
        from_config(b.build().expect("builds"), &base(), KEYS)
    }

    #[test]
    fn loads_when_required_keys_are_given() {
        let s = with(&[
            ("database.url", "postgres://u:p@h/db"),
            ("auth.public_key_file", "/k.pem"),
        ])
        .expect("loads");
        assert_eq!(s.http.port, 8081);
        assert_eq!(s.ext.extra.name, "x");
        let shown = serde_json::to_string(&s.database).expect("serialises");
        assert!(!shown.contains("u:p"), "secrets are never printed: {shown}");
    }

    #[test]
    fn unknown_missing_and_invalid_keys_are_refused() {
        match with(&[
            ("database.url", "x"),
            ("auth.public_key_file", "k"),
            ("http.prot", "1"),
        ]) {
            Err(ConfigError::Unknown(k)) => assert_eq!(k, ["http.prot (XF_HTTP__PROT)"]),
            other => panic!("expected unknown key, got {other:?}"),
        }
        match with(&[]) {
            Err(ConfigError::Missing(k)) => assert_eq!(k.len(), 2),
            other => panic!("expected missing keys, got {other:?}"),
        }
        match with(&[
            ("database.url", "x"),
            ("auth.public_key_file", "k"),
            ("kafka.partitions", "0"),
            ("extra.name", ""),
        ]) {
            Err(ConfigError::Invalid(p)) => {
                let keys: Vec<_> = p.iter().map(|(k, _)| k.as_str()).collect();
                assert_eq!(keys, ["kafka.partitions", "extra.name"]);
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn text_values_convert_in_the_service_sections_too() {
        let base = format!("{}\n[numbers]\nn = 1\n", base());
        let mut b = ::config::Config::builder()
            .add_source(::config::File::from_str(&base, ::config::FileFormat::Toml));
        for (k, v) in [
            ("database.url", "x"),
            ("auth.public_key_file", "k"),
            ("numbers.n", "40"),
            ("extra.name", "330122"),
        ] {
            b = b.set_override(k, v).expect("override");
        }
        let s: Settings<Ext> = from_config(b.build().expect("builds"), &base, KEYS).expect("loads");
        assert_eq!(s.ext.numbers.map(|n| n.n), Some(40));
        assert_eq!(s.ext.extra.name, "330122");
    }

    #[test]
    fn accepted_keys_list_required_ones() {
        let keys = accepted_keys(&base(), KEYS).expect("keys");
        assert!(keys.contains(&("database.url".into(), true)));
        assert!(keys.contains(&("http.port".into(), false)));
        assert!(keys.contains(&("telemetry.otlp_endpoint".into(), false)));
        assert_eq!(env_name("kafka.dlq_topic"), "XF_KAFKA__DLQ_TOPIC");
    }
}
