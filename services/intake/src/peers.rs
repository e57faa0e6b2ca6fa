//! What intake asks the other services over HTTP: supervision's deadline preview (the
//! due date a receipt and the citizen's view give, from the policy in force) and
//! routing's written reply (the text the petitioner is owed; it never travels on the
//! bus). Both are best effort: a registration never waits on them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where the peers are. Empty URLs switch the calls off.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeersSettings {
    /// supervision's base URL, e.g. `http://127.0.0.1:8083`.
    pub supervision_url: String,
    /// routing's base URL, e.g. `http://127.0.0.1:8082`.
    pub routing_url: String,
    /// File with the bearer token intake reads replies with (an overseer of the
    /// jurisdictions it registers for).
    pub token_file: String,
}

/// One stage's due date by the policy in force (supervision's `GET /v1/deadlines/preview`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Preview {
    pub due_at: DateTime<Utc>,
    pub policy_id: String,
    pub days: i64,
    /// calendar_days | working_days
    pub counting: String,
}

/// The written reply as routing holds it.
#[derive(Debug, Clone, Deserialize)]
pub struct Reply {
    pub outcome: String,
    pub text: String,
    pub replied_at: DateTime<Utc>,
    #[serde(default)]
    pub review_level: i16,
}

#[derive(Clone)]
pub struct Peers {
    http: reqwest::Client,
    supervision: String,
    routing: String,
    token: Option<String>,
}

impl Peers {
    pub fn new(s: &PeersSettings) -> anyhow::Result<Peers> {
        let token = if s.token_file.is_empty() {
            None
        } else {
            let t = std::fs::read_to_string(&s.token_file)
                .map_err(|e| anyhow::anyhow!("peers.token_file: {e}"))?;
            Some(t.trim().to_owned())
        };
        Ok(Peers {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()?,
            supervision: s.supervision_url.trim_end_matches('/').to_owned(),
            routing: s.routing_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// When `stage` started at `start` in `code` is due; None when supervision is not
    /// configured, not reachable or times no such stage there.
    pub async fn preview(&self, code: &str, stage: &str, start: DateTime<Utc>) -> Option<Preview> {
        if self.supervision.is_empty() {
            return None;
        }
        let r = self
            .http
            .get(format!("{}/v1/deadlines/preview", self.supervision))
            .query(&[
                ("jurisdiction", code),
                ("stage", stage),
                ("start", &start.to_rfc3339()),
            ])
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// The reply routing holds for the case, if there is one and routing answers.
    pub async fn reply(&self, case_id: Uuid) -> Option<Reply> {
        let token = self.token.as_deref()?;
        if self.routing.is_empty() {
            return None;
        }
        let r = self
            .http
            .get(format!("{}/v1/cases/{case_id}/reply", self.routing))
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }
}

/// A due moment as the receipt says it: the last day of the period in Asia/Shanghai
/// (a period ends at the midnight that closes its last day).
pub fn date_zh(at: DateTime<Utc>) -> String {
    let local = (at - chrono::Duration::seconds(1)).with_timezone(&chrono_tz::Asia::Shanghai);
    local.format("%Y年%-m月%-d日").to_string()
}

/// Asks supervision when acceptance is due for a registration that owes the
/// petitioner an answer (not anonymous, not referred, not answered on the spot).
pub async fn with_deadline(
    mut c: crate::domain::register::Checked,
    peers: &Peers,
    now: DateTime<Utc>,
) -> crate::domain::register::Checked {
    let b = &c.input;
    if !b.anonymous && b.referral.is_none() && b.on_the_spot_answer.is_none() {
        c.acceptance = peers.preview(c.code.as_str(), "acceptance", now).await;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_dates_are_told_in_local_time() {
        // A period whose last day is 2026-03-17 ends at midnight Shanghai, 16:00 UTC.
        let at = DateTime::parse_from_rfc3339("2026-03-17T16:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(date_zh(at), "2026年3月17日");
        let later = at + chrono::Duration::seconds(1);
        assert_eq!(date_zh(later), "2026年3月18日");
    }
}
