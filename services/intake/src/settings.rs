use serde::{Deserialize, Serialize};
use xf_jurisdiction::TreeSettings;

pub type Settings = xf_app::Settings<Ext>;

/// intake's own sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ext {
    pub jurisdiction: TreeSettings,
    pub vault: VaultSettings,
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
        for (key, path) in [
            ("vault.key_file", &self.vault.key_file),
            ("vault.pseudonym_key_file", &self.vault.pseudonym_key_file),
        ] {
            match std::fs::read_to_string(path) {
                Ok(s) if !s.trim().is_empty() => {}
                Ok(_) => p.push((key.into(), format!("{path} is empty"))),
                Err(e) => p.push((key.into(), format!("cannot read {path}: {e}"))),
            }
        }
        p
    }
}
