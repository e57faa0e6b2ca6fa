//! The demo county's users for the development sign-in: one per role the pages serve.

use serde::Serialize;
use xf_auth::roles;

#[derive(Debug, Clone, Serialize)]
pub struct DemoUser {
    /// The sign-in id (also the token's subject).
    pub id: String,
    /// The catalogue key of its label.
    pub label: &'static str,
    pub roles: Vec<&'static str>,
    pub unit: Option<String>,
    pub jurisdiction: String,
}

/// The users of `county` (a county code); unit ids follow the demo's reference data
/// (`<county>-xfb` the letters-and-visits bureau, `<county>-rsj` the labour bureau…).
pub fn demo_users(county: &str) -> Vec<DemoUser> {
    let township = xf_jurisdiction::Tree::fixture()
        .ok()
        .and_then(|t| {
            t.of_tier(xf_jurisdiction::Tier::Township)
                .first()
                .map(|d| d.code.to_string())
        })
        .unwrap_or_else(|| format!("{county}001"));
    let u = |id: &str, label, roles: Vec<&'static str>, unit: Option<String>, j: &str| DemoUser {
        id: id.to_owned(),
        label,
        roles,
        unit,
        jurisdiction: j.to_owned(),
    };
    vec![
        u(
            "clerk",
            "users.clerk",
            vec![roles::REGISTRAR],
            Some(xf_jurisdiction::office_id(county)),
            county,
        ),
        u(
            "handler-rsj",
            "users.handler_rsj",
            vec![roles::HANDLER],
            Some(format!("{county}-rsj")),
            county,
        ),
        u(
            "handler-jtj",
            "users.handler_jtj",
            vec![roles::HANDLER],
            Some(format!("{county}-jtj")),
            county,
        ),
        u(
            "handler-jw",
            "users.handler_jw",
            vec![roles::HANDLER],
            Some(format!("{county}-jw")),
            county,
        ),
        u(
            "handler-town",
            "users.handler_town",
            vec![roles::HANDLER],
            Some(format!("{township}-gov")),
            &township,
        ),
        u(
            "supervisor",
            "users.supervisor",
            vec![roles::SUPERVISOR],
            Some(xf_jurisdiction::office_id(county)),
            county,
        ),
        u(
            "leader",
            "users.leader",
            vec![roles::LEADER, roles::ANALYST],
            None,
            county,
        ),
        u(
            "scheduler",
            "users.scheduler",
            vec![roles::SCHEDULER],
            Some(xf_jurisdiction::office_id(county)),
            county,
        ),
    ]
}
