//! Layered configuration, as every Xinfang service has it: the compiled-in
//! `config/base.toml`, then an optional file named by `XINFANG_CONFIG_FILE`, then
//! `XF_<SECTION>__<KEY>` environment variables. Unknown keys are refused.

use serde::{Deserialize, Serialize};
use xf_telemetry::TelemetrySettings;

pub const BASE: &str = include_str!("../config/base.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub http: HttpSettings,
    pub services: ServiceUrls,
    pub auth: AuthSettings,
    pub session: SessionSettings,
    pub dev_signin: DevSignin,
    pub oidc: OidcSettings,
    pub public: PublicSettings,
    pub assets: AssetSettings,
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub public_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceUrls {
    pub intake_url: String,
    pub routing_url: String,
    pub supervision_url: String,
    pub scheduling_url: String,
    pub reporting_url: String,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub public_key_file: String,
    pub algorithm: xf_auth::KeyAlgorithm,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
    /// The identity provider's JWK Set; tokens naming a `kid` are checked against it.
    #[serde(default)]
    pub jwks_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub key_file: String,
    pub ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevSignin {
    pub enabled: bool,
    pub private_key_file: String,
    pub county: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    pub enabled: bool,
    pub issuer: String,
    pub client_id: String,
    pub redirect_path: String,
    pub scopes: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicSettings {
    pub open311_api_key: String,
    pub county: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetSettings {
    pub dir: String,
}

impl Settings {
    /// Every problem as (key, message); empty when valid.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        for (k, v) in [
            ("services.intake_url", &self.services.intake_url),
            ("services.routing_url", &self.services.routing_url),
            ("services.supervision_url", &self.services.supervision_url),
            ("services.scheduling_url", &self.services.scheduling_url),
            ("services.reporting_url", &self.services.reporting_url),
            ("http.public_url", &self.http.public_url),
        ] {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                p.push((
                    k.to_owned(),
                    "must be an http:// or https:// URL".to_owned(),
                ));
            }
        }
        if !(100..=120_000).contains(&self.services.timeout_ms) {
            p.push(("services.timeout_ms".into(), "must be 100 to 120000".into()));
        }
        if !(60..=7 * 86_400).contains(&self.session.ttl_secs) {
            p.push(("session.ttl_secs".into(), "must be 60 to 604800".into()));
        }
        if self.dev_signin.enabled && xf_jurisdiction::Code::parse(&self.dev_signin.county).is_err()
        {
            p.push(("dev_signin.county".into(), "must be a county code".into()));
        }
        if self.oidc.enabled && (self.oidc.issuer.is_empty() || self.oidc.client_id.is_empty()) {
            p.push((
                "oidc.issuer".into(),
                "an enabled OIDC sign-in needs issuer and client_id".into(),
            ));
        }
        p
    }

    /// Whether cookies are marked Secure: when users reach the console over https.
    pub fn secure_cookies(&self) -> bool {
        self.http.public_url.starts_with("https://")
    }
}

/// Every key the console accepts (all have defaults or are optional).
pub fn accepted_keys() -> anyhow::Result<Vec<String>> {
    let v: toml::Table = toml::from_str(BASE)?;
    let mut out = Vec::new();
    for (section, t) in &v {
        if let toml::Value::Table(t) = t {
            for k in t.keys() {
                out.push(format!("{section}.{k}"));
            }
        }
    }
    out.extend(
        [
            "auth.issuer",
            "auth.audience",
            "auth.jwks_url",
            "telemetry.otlp_endpoint",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    out.sort();
    Ok(out)
}

/// `http.port` → `XF_HTTP__PORT`.
pub fn env_name(key: &str) -> String {
    format!("XF_{}", key.replace('.', "__").to_ascii_uppercase())
}

fn finish(
    b: ::config::builder::ConfigBuilder<::config::builder::DefaultState>,
) -> anyhow::Result<Settings> {
    let cfg = b.build()?;
    let s: Settings = cfg
        .try_deserialize()
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let problems = s.problems();
    if !problems.is_empty() {
        anyhow::bail!(
            "invalid configuration: {}",
            problems
                .iter()
                .map(|(k, m)| format!("{k} ({}): {m}", env_name(k)))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(s)
}

/// Loads the settings from the layers described above.
pub fn load() -> anyhow::Result<Settings> {
    let mut b = ::config::Config::builder()
        .add_source(::config::File::from_str(BASE, ::config::FileFormat::Toml));
    if let Ok(path) = std::env::var("XINFANG_CONFIG_FILE") {
        b = b.add_source(::config::File::with_name(&path).required(true));
    }
    b = b.add_source(
        ::config::Environment::with_prefix("XF")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true),
    );
    finish(b)
}

/// The defaults with explicit overrides only (tests and in-process tools).
pub fn load_with(overrides: &[(&str, &str)]) -> anyhow::Result<Settings> {
    let mut b = ::config::Config::builder()
        .add_source(::config::File::from_str(BASE, ::config::FileFormat::Toml));
    for (k, v) in overrides {
        b = b.set_override(*k, *v)?;
    }
    finish(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_bad_values_are_named() {
        let s = load_with(&[]).expect("defaults load");
        assert_eq!(s.http.port, 8080);
        assert!(!s.secure_cookies());
        let e = load_with(&[("services.routing_url", "ftp://x")]).expect_err("refused");
        assert!(e.to_string().contains("XF_SERVICES__ROUTING_URL"), "{e}");
        let e = load_with(&[("session.nope", "1")]).expect_err("unknown key");
        assert!(e.to_string().contains("nope"), "{e}");
        let s = load_with(&[("http.public_url", "https://xf.example")]).expect("loads");
        assert!(s.secure_cookies());
    }
}
