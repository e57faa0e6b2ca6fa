//! Registration (登记), the stored part: the category taxonomy lookup and the one
//! transaction that writes the register row, the sealed identity, the receipt and the
//! events.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Asia::Shanghai;
use sqlx::{PgConnection, PgPool, Row};
use tracing::Instrument;
use uuid::Uuid;
use xf_auth::Claims;
use xf_bus::Outbox;
use xf_events::status::Status;
use xf_events::v1::{CaseClosed, CaseNotAccepted, CaseRegistered};
use xf_events::{Payload, tier_of_code};
use xf_http::Problem;

use crate::domain::register::{CategoryInfo, Checked, Receipt, referral_name, urgency_name};
use crate::vault::{self, Vault};

/// The class of an active category, or None (also for an empty code).
pub async fn category(pool: &PgPool, code: &str) -> Result<Option<CategoryInfo>, Problem> {
    if code.is_empty() {
        return Ok(None);
    }
    sqlx::query("SELECT class FROM categories WHERE code = $1 AND active")
        .bind(code)
        .fetch_optional(pool)
        .await
        .map(|r| {
            r.map(|r| CategoryInfo {
                class: r.get("class"),
            })
        })
        .map_err(|e| xf_store::problem(&e))
}

/// Writes a checked registration, its sealed identity and its events.
pub async fn persist(
    tx: &mut PgConnection,
    vault: &Vault,
    outbox: &Outbox,
    registrar: &Claims,
    now: DateTime<Utc>,
    c: Checked,
) -> Result<Receipt, sqlx::Error> {
    let case_id = Uuid::now_v7();
    let b = &c.input;
    let tier = tier_of_code(c.code.as_str());
    let span = tracing::info_span!(
        "register",
        xf.case_id = %case_id,
        xf.tier = xf_events::tier_name(tier),
        xf.jurisdiction = %c.code,
    );
    async move {
        let office = registrar.jurisdiction.clone();
        let year = now.with_timezone(&Shanghai).year();
        // Gap-free per office and year: the counter row stays locked until commit,
        // and a rolled-back registration gives its number back.
        let seq: i64 = sqlx::query(
            "INSERT INTO registration_counters (office_code, year, last_seq) VALUES ($1, $2, 1)
             ON CONFLICT (office_code, year)
             DO UPDATE SET last_seq = registration_counters.last_seq + 1
             RETURNING last_seq",
        )
        .bind(&office)
        .bind(year)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        let registration_no = format!("{office}-{year}-{seq:06}");
        let query_code = vault::new_query_code();

        // The first petitioner (or representative) identifies the matter.
        let lead = b.petitioners.first();
        let pid = lead.and_then(|p| {
            vault.pseudonym(
                p.id_number.as_deref(),
                p.name.as_deref(),
                p.phone.as_deref(),
            )
        });
        let aad = case_id.as_bytes().to_vec();
        let (summary, requests, sealed_content) = if c.confidential {
            let content = serde_json::json!({"summary": b.summary.trim(), "requests": b.requests});
            (
                "[confidential]".to_owned(),
                String::new(),
                Some(vault.seal(content.to_string().as_bytes(), &aad)),
            )
        } else {
            (
                b.summary.trim().to_owned(),
                b.requests.clone().unwrap_or_default(),
                None,
            )
        };
        let status = if b.referral.is_some() {
            Status::NotAccepted
        } else if b.on_the_spot_answer.is_some() {
            Status::Closed
        } else {
            Status::Registered
        }
        .as_str();
        let details = serde_json::json!({
            "letter": b.letter,
            "visit": b.visit,
        });
        let referral_channel = b.referral.as_ref().map(|r| r.channel.clone());
        sqlx::query(
            "INSERT INTO cases (id, registration_no, office_code, channel, category, matter_code,
                 summary, status, registered_by, received_at, created_at, updated_at,
                 urgency, requests, anonymous, collective, headcount, confidential,
                 sealed_content, key_version, petitioner_pid, accused_unit_id, details,
                 on_spot_answer, referral_channel, superior_reference, superior_due_at,
                 query_code_hash, due_at, due_stage, due_policy)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)",
        )
        .bind(case_id)
        .bind(&registration_no)
        .bind(&office)
        .bind(&b.channel)
        .bind(&b.category)
        .bind(c.code.as_str())
        .bind(&summary)
        .bind(status)
        .bind(&registrar.sub)
        .bind(c.received_at)
        .bind(now)
        .bind(urgency_name(c.urgency))
        .bind(&requests)
        .bind(b.anonymous)
        .bind(b.collective.is_some())
        .bind(b.collective.as_ref().map(|c| c.headcount).unwrap_or(1) as i32)
        .bind(c.confidential)
        .bind(&sealed_content)
        .bind(sealed_content.as_ref().map(|_| vault::KEY_VERSION))
        .bind(&pid)
        .bind(&b.accused_unit_id)
        .bind(&details)
        .bind(&b.on_the_spot_answer)
        .bind(&referral_channel)
        .bind(b.superior.as_ref().map(|s| s.reference.clone()))
        .bind(b.superior.as_ref().and_then(|s| s.due_at))
        .bind(vault::query_code_hash(case_id, &query_code))
        .bind(c.acceptance.as_ref().map(|p| p.due_at))
        .bind(c.acceptance.as_ref().map(|_| "acceptance"))
        .bind(c.acceptance.as_ref().map(|p| p.policy_id.clone()))
        .execute(&mut *tx)
        .await?;
        for (i, p) in b.petitioners.iter().enumerate() {
            let p_pid = vault.pseudonym(
                p.id_number.as_deref(),
                p.name.as_deref(),
                p.phone.as_deref(),
            );
            let plain = serde_json::to_vec(p).unwrap_or_default();
            let mut row_aad = aad.clone();
            row_aad.extend_from_slice(&(i as u32).to_be_bytes());
            sqlx::query(
                "INSERT INTO petitioners (case_id, position, pid, key_version, sealed)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(case_id)
            .bind(i as i32)
            .bind(p_pid)
            .bind(vault::KEY_VERSION)
            .bind(vault.seal(&plain, &row_aad))
            .execute(&mut *tx)
            .await?;
        }
        let mut timeline = vec![("registered", serde_json::json!({"channel": b.channel}))];
        if let Some(r) = &b.referral {
            timeline.push((
                "not_accepted",
                serde_json::json!({
                    "reason": "out_of_scope",
                    "referral_channel": r.channel,
                    "referral": referral_name(&r.channel),
                }),
            ));
        }
        if b.on_the_spot_answer.is_some() {
            timeline.push(("closed", serde_json::json!({"answered_on_spot": true})));
        }
        for (kind, detail) in &timeline {
            sqlx::query(
                "INSERT INTO case_timeline (case_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
            )
            .bind(case_id)
            .bind(now)
            .bind(*kind)
            .bind(detail)
            .execute(&mut *tx)
            .await?;
        }

        let registered = CaseRegistered {
            registration_no: registration_no.clone(),
            channel: c.channel as i32,
            category: b.category.clone(),
            matter_jurisdiction_code: c.code.to_string(),
            office_jurisdiction_code: office.clone(),
            urgency: c.urgency as i32,
            petitioner_pid: pid.clone().unwrap_or_default(),
            anonymous: b.anonymous,
            collective: b.collective.is_some(),
            headcount: b
                .collective
                .as_ref()
                .map(|c| c.headcount as u32)
                .unwrap_or(1),
            confidential: c.confidential,
            excluded_unit_id: b.accused_unit_id.clone().unwrap_or_default(),
            // The text stays here; routing compares keyed shingles (none for
            // accusations, whose content is sealed).
            signature: if c.confidential {
                Vec::new()
            } else {
                vault.signature(&summary).as_slice().to_vec()
            },
            received_at: Some(xf_events::timestamp(c.received_at)),
            answered_on_spot: b.on_the_spot_answer.is_some(),
            referral_channel: referral_channel.clone().unwrap_or_default(),
            superior_reference: b
                .superior
                .as_ref()
                .map(|s| s.reference.clone())
                .unwrap_or_default(),
            superior_due_at: b
                .superior
                .as_ref()
                .and_then(|s| s.due_at)
                .map(xf_events::timestamp),
        };
        let mut payloads = vec![Payload::CaseRegistered(registered)];
        if let Some(r) = &b.referral {
            payloads.push(Payload::CaseNotAccepted(CaseNotAccepted {
                unit_id: xf_jurisdiction::office_id(&office),
                reason: "out_of_scope".into(),
                referral_channel: r.channel.clone(),
            }));
            payloads.push(Payload::CaseClosed(CaseClosed {
                unit_id: xf_jurisdiction::office_id(&office),
                answered_on_spot: false,
                not_accepted: true,
            }));
        }
        if b.on_the_spot_answer.is_some() {
            payloads.push(Payload::CaseClosed(CaseClosed {
                unit_id: xf_jurisdiction::office_id(&office),
                answered_on_spot: true,
                not_accepted: false,
            }));
        }
        for p in payloads {
            let env = xf_events::envelope(case_id, crate::SERVICE, tier, c.code.as_str(), now, p);
            outbox.put(tx, &env).await?;
        }
        let message = match (&b.referral, b.on_the_spot_answer.is_some(), b.anonymous) {
            (Some(r), _, _) => format!(
                "您反映的事项属于{}的受理范围，信访部门不予受理，请向其提出。",
                referral_name(&r.channel).unwrap_or("有关机关")
            ),
            (None, true, _) => "您反映的事项已当场答复办结。".to_owned(),
            (None, false, true) => "匿名信访事项已登记，将依规处理，不予答复。".to_owned(),
            (None, false, false) => match &c.acceptance {
                Some(p) => format!(
                    "您的信访事项已登记。是否受理将于{}前告知（{}日，{}）；凭登记编号和查询码可查询办理进度。",
                    crate::peers::date_zh(p.due_at),
                    p.days,
                    if p.counting == "working_days" {
                        "按工作日计"
                    } else {
                        "按自然日计"
                    }
                ),
                None => "您的信访事项已登记。是否受理将在规定期限内告知；凭登记编号和查询码可查询办理进度。"
                    .to_owned(),
            },
        };
        Ok(Receipt {
            case_id,
            registration_no,
            query_code,
            status: status.to_owned(),
            confidential: c.confidential,
            message,
            referral_channel,
            acceptance_deadline: c.acceptance.clone(),
        })
    }
    .instrument(span)
    .await
}
