use serde::{Deserialize, Serialize};
use xf_jurisdiction::TreeSettings;

pub type Settings = xf_app::Settings<Ext>;

/// routing's own sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ext {
    pub jurisdiction: TreeSettings,
    pub repeat: RepeatSettings,
}

/// Repeat and duplicate detection (重信重访, 并单).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatSettings {
    /// How far back (days) an earlier case of the same petitioner and category counts;
    /// a case still in handling counts whatever its age.
    pub window_days: u32,
    /// Summary similarity (0..1, character shingles) from which two cases are the same matter.
    pub threshold: f64,
    /// How far back (days) cases of other petitioners in the same place are grouped.
    pub group_window_days: u32,
}

impl xf_app::Validate for Ext {
    fn problems(&self) -> Vec<(String, String)> {
        let mut p = self.jurisdiction.problems();
        let r = &self.repeat;
        if !(r.threshold > 0.0 && r.threshold <= 1.0) {
            p.push((
                "repeat.threshold".into(),
                "must be above 0 and at most 1".into(),
            ));
        }
        if r.window_days == 0 {
            p.push(("repeat.window_days".into(), "must be at least 1".into()));
        }
        if r.group_window_days == 0 {
            p.push((
                "repeat.group_window_days".into(),
                "must be at least 1".into(),
            ));
        }
        p
    }
}
