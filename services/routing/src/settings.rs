use serde::{Deserialize, Serialize};
use xf_jurisdiction::TreeSettings;

pub type Settings = xf_app::Settings<Ext>;

/// routing's own sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ext {
    pub jurisdiction: TreeSettings,
}

impl xf_app::Validate for Ext {
    fn problems(&self) -> Vec<(String, String)> {
        self.jurisdiction.problems()
    }
}
