//! The petitioner's notices: acceptance or not, the reply, the 3-month progress notice
//! and the follow-up visit, addressed by intake — the one service holding the
//! petitioner's contact — and sent through the signed webhook (`libs/notify`) to an
//! SMS gateway. Anonymous items (R3) get none. Every notice is also in the citizen's
//! view; reading the phone number for it is recorded in the read audit.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;
use xf_events::v1::Stage;
use xf_events::{Event, Payload};

use crate::domain::register::Petitioner;
use crate::store::audit::{self, Shown};
use crate::vault::Vault;

/// The kind of notice an event owes the petitioner, and its text.
fn notice(ev: &Event, no: &str, unit: Option<&str>) -> Option<(&'static str, String)> {
    Some(match ev.payload()? {
        Payload::CaseAccepted(_) => (
            "accepted",
            format!(
                "您的信访事项（登记编号{no}）已受理{}，可凭登记编号和查询码查询办理进度。",
                unit.map(|u| format!("，由{u}办理")).unwrap_or_default()
            ),
        ),
        Payload::CaseNotAccepted(n) if ev.envelope.producer != crate::SERVICE => (
            "not_accepted",
            format!(
                "您的信访事项（登记编号{no}）不予受理{}。",
                if n.referral_channel.is_empty() {
                    String::new()
                } else {
                    format!("，请向{}提出", n.referral_channel)
                }
            ),
        ),
        Payload::ReplyIssued(_) => (
            "replied",
            format!(
                "您的信访事项（登记编号{no}）已作出书面答复，请凭登记编号和查询码查看答复内容。"
            ),
        ),
        Payload::DeadlineBreached(b) if b.stage == Stage::ProgressNotice as i32 => (
            "progress_notice",
            format!("您的信访事项（登记编号{no}）受理已满三个月，仍在办理中，办结后将及时告知。"),
        ),
        Payload::FollowUpScheduled(f) => (
            "follow_up",
            format!(
                "您的信访事项（登记编号{no}）办结后将安排回访{}。",
                xf_events::from_timestamp(f.scheduled_at.as_ref())
                    .map(|t| format!("，时间约为{}", crate::peers::date_zh(t)))
                    .unwrap_or_default()
            ),
        ),
        _ => return None,
    })
}

/// Records (and, with a webhook, queues — due at `now` of intake's clock) the notice
/// `ev` owes the petitioner of its case, once per event. Nothing for anonymous items or
/// unknown cases.
pub async fn petitioner(
    tx: &mut PgConnection,
    ev: &Event,
    vault: &Vault,
    outbound: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let Some(case) = sqlx::query(
        "SELECT registration_no, anonymous, confidential, unit_name, matter_code FROM cases
         WHERE id = $1",
    )
    .bind(ev.case_id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(());
    };
    if case.get::<bool, _>("anonymous") {
        return Ok(());
    }
    let no: String = case.get("registration_no");
    let unit: Option<String> = if case.get::<bool, _>("confidential") {
        None
    } else {
        case.get("unit_name")
    };
    let Some((kind, text)) = notice(ev, &no, unit.as_deref()) else {
        return Ok(());
    };
    let phone = if outbound {
        phone_of(
            tx,
            ev.case_id,
            vault,
            ev.occurred_at,
            &case.get::<String, _>("matter_code"),
        )
        .await?
    } else {
        None
    };
    let id = Uuid::now_v7();
    let n = sqlx::query(
        "INSERT INTO petitioner_notices (id, event_id, case_id, kind, at, channel)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id, kind) DO NOTHING",
    )
    .bind(id)
    .bind(ev.event_id)
    .bind(ev.case_id)
    .bind(kind)
    .bind(ev.occurred_at)
    .bind(if phone.is_some() { "webhook" } else { "none" })
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 1
        && let Some(phone) = phone
    {
        let body = serde_json::json!({
            "notice_id": id, "kind": kind, "registration_no": no,
            "to": {"phone": phone}, "text": text, "at": ev.occurred_at,
        });
        xf_notify::enqueue(tx, &id.to_string(), "petitioner", &body, now).await?;
    }
    Ok(())
}

/// The first petitioner's phone, read from the vault (and the read recorded).
async fn phone_of(
    tx: &mut PgConnection,
    case_id: Uuid,
    vault: &Vault,
    at: DateTime<Utc>,
    code: &str,
) -> Result<Option<String>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "SELECT position, key_version, sealed FROM petitioners WHERE case_id = $1
         ORDER BY position LIMIT 1",
    )
    .bind(case_id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let pos: i32 = r.get("position");
    let mut aad = case_id.as_bytes().to_vec();
    aad.extend_from_slice(&(pos as u32).to_be_bytes());
    let Ok(plain) = vault.open(&r.get::<Vec<u8>, _>("sealed"), &aad, r.get("key_version")) else {
        return Ok(None);
    };
    let Ok(p) = serde_json::from_slice::<Petitioner>(&plain) else {
        return Ok(None);
    };
    let Some(phone) = p.phone.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let reader = xf_auth::claims("intake-notices", &[], None, code, 60);
    audit::record(
        tx,
        at,
        &reader,
        case_id,
        "告知信访人办理情况",
        Shown::Identity,
    )
    .await?;
    Ok(Some(phone))
}
