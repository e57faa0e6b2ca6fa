use serde::{Deserialize, Serialize};
use xf_jurisdiction::TreeSettings;

pub type Settings = xf_app::Settings<Ext>;

/// intake's own sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ext {
    pub jurisdiction: TreeSettings,
    pub vault: VaultSettings,
    pub citizen: CitizenSettings,
    #[serde(default)]
    pub open311: Open311Settings,
    /// supervision and routing, for due dates and replies.
    #[serde(default)]
    pub peers: crate::peers::PeersSettings,
    /// The petitioner's notices (the signed webhook to an SMS gateway); off while
    /// `url` is empty.
    #[serde(default)]
    pub webhook: xf_notify::WebhookSettings,
}

/// The Open311 GeoReport v2 endpoint (`/open311/v2/`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Open311Settings {
    /// File of API clients, one a line: `<api_key>\t<office_code>\t<client name>`
    /// (`#` starts a comment). Empty: no clients, every POST is refused.
    pub api_keys_file: String,
    /// The `jurisdiction_id` this endpoint answers to, besides its county codes.
    pub jurisdiction_id: String,
    /// Requests per minute one client address may make to `/open311/v2/…`, shared by
    /// every replica.
    pub rate_per_minute: u32,
}

impl Default for Open311Settings {
    fn default() -> Self {
        Open311Settings {
            api_keys_file: String::new(),
            jurisdiction_id: "xinfang".into(),
            rate_per_minute: 60,
        }
    }
}

/// The citizen's side.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenSettings {
    pub rate_per_minute: u32,
    pub review_window_days: u32,
}

/// Keys of the petitioner vault, mounted from secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSettings {
    /// File with the base64 32-byte key that encrypts identity fields at rest.
    pub key_file: String,
    /// File with the base64 32-byte key of the pseudonymous petitioner id (keyed hash).
    pub pseudonym_key_file: String,
}

impl xf_app::Validate for Ext {
    fn problems(&self) -> Vec<(String, String)> {
        let mut p = self.jurisdiction.problems();
        if !(1..=100_000).contains(&self.citizen.rate_per_minute) {
            p.push((
                "citizen.rate_per_minute".into(),
                "must be 1 to 100000".into(),
            ));
        }
        if !(1..=100_000).contains(&self.open311.rate_per_minute) {
            p.push((
                "open311.rate_per_minute".into(),
                "must be 1 to 100000".into(),
            ));
        }
        if !(1..=365).contains(&self.citizen.review_window_days) {
            p.push((
                "citizen.review_window_days".into(),
                "must be 1 to 365".into(),
            ));
        }
        for (key, path) in [
            ("vault.key_file", &self.vault.key_file),
            ("vault.pseudonym_key_file", &self.vault.pseudonym_key_file),
        ] {
            if let Err(e) = crate::vault::Vault::from_files(path, path) {
                p.push((key.into(), e.to_string()));
            }
        }
        if let Err(e) = crate::open311::Clients::from_file(&self.open311.api_keys_file) {
            p.push(("open311.api_keys_file".into(), e));
        }
        if let Err(e) = crate::peers::Peers::new(&self.peers) {
            p.push(("peers.token_file".into(), e.to_string()));
        }
        p.extend(self.webhook.problems("webhook"));
        let j = &self.open311.jurisdiction_id;
        if j.is_empty() || j.len() > 100 || !j.bytes().all(|b| b.is_ascii_graphic()) {
            p.push((
                "open311.jurisdiction_id".into(),
                "must be 1 to 100 visible ASCII characters".into(),
            ));
        }
        p
    }
}
