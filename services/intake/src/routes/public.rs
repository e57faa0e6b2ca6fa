//! The citizen's side: status by registration number and query code, review
//! requests (复查/复核) and satisfaction. No token; rate-limited per client by
//! [`super::limit`].

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use xf_app::Clock;
use xf_bus::Outbox;
use xf_events::v1::{ReviewKind, ReviewRequested, SatisfactionRecorded};
use xf_events::{Payload, tier_of_code};
use xf_http::{FieldError, Problem, ValidJson};

use crate::peers::Peers;
use crate::settings::CitizenSettings;
use crate::vault;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    /// The query code printed on the receipt.
    pub code: String,
}

struct Found {
    id: Uuid,
    matter_code: String,
    status: String,
    replied_at: Option<DateTime<Utc>>,
    window_until: Option<DateTime<Utc>>,
    review_state: String,
    reviews: i32,
    satisfaction: Option<i32>,
    /// The whole row, for the status view.
    row: sqlx::postgres::PgRow,
}

/// Finds a case by number and code; unknown number and wrong code look the same.
/// `lock` takes the row lock (inside a transaction).
async fn find<'e, E: sqlx::PgExecutor<'e>>(
    ex: E,
    no: &str,
    code: &str,
    lock: bool,
) -> Result<Found, Problem> {
    macro_rules! select {
        ($tail:literal) => {
            concat!(
                "SELECT id, matter_code, status, replied_at, review_window_until, review_state,
                        reviews_requested, satisfaction, query_code_hash, channel, category,
                        received_at, unit_name, due_at, leader_owner, confidential, anonymous,
                        due_stage, due_policy, reply_outcome, reply_text, linked_case_id, office_code,
                        (SELECT registration_no FROM cases o WHERE o.id = cases.linked_case_id)
                            AS linked_registration_no
                 FROM cases WHERE registration_no = $1",
                $tail
            )
        };
    }
    let sql = if lock {
        select!(" FOR UPDATE")
    } else {
        select!("")
    };
    let row = sqlx::query(sql)
        .bind(no)
        .fetch_optional(ex)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    let id = row
        .as_ref()
        .map(|r| r.get::<Uuid, _>("id"))
        .unwrap_or_else(Uuid::nil);
    let stored: Vec<u8> = row
        .as_ref()
        .and_then(|r| r.get::<Option<Vec<u8>>, _>("query_code_hash"))
        .unwrap_or_else(|| vec![0; 32]);
    // Compare even when the number is unknown, so timing tells nothing.
    let matches = vault::same(&vault::query_code_hash(id, code), &stored);
    match row {
        Some(r) if matches => Ok(Found {
            id,
            matter_code: r.get("matter_code"),
            status: r.get("status"),
            replied_at: r.get("replied_at"),
            window_until: r.get("review_window_until"),
            review_state: r.get("review_state"),
            reviews: r.get("reviews_requested"),
            satisfaction: r.get("satisfaction"),
            row: r,
        }),
        _ => Err(Problem::not_found("case")),
    }
}

/// Kinds of timeline entries a petitioner sees, and the detail keys shown.
fn public_detail(kind: &str, d: &serde_json::Value) -> serde_json::Value {
    let keep: &[&str] = match kind {
        "dispatched" => &["unit"],
        "not_accepted" => &["reason", "referral_channel", "referral"],
        "replied" => &["outcome"],
        "follow_up_scheduled" => &["scheduled_at"],
        "follow_up_completed" => &["reached", "satisfaction"],
        "escalated" => &["to_jurisdiction_code"],
        "review_requested" => &["kind"],
        "leader_owner" => &["leader"],
        "deadline" => &["stage", "due_at"],
        "appointment" => &["status", "starts_at", "ends_at", "place"],
        _ => &[],
    };
    let mut out = serde_json::Map::new();
    for k in keep {
        if let Some(v) = d.get(*k) {
            out.insert((*k).to_owned(), v.clone());
        }
    }
    serde_json::Value::Object(out)
}

/// The reply the petitioner is owed: its outcome from routing's event, its text read
/// from routing once and kept.
async fn reply_of(
    pool: &PgPool,
    peers: &Peers,
    f: &Found,
) -> Result<Option<serde_json::Value>, Problem> {
    let Some(replied_at) = f.replied_at else {
        return Ok(None);
    };
    let mut text: Option<String> = f.row.get("reply_text");
    let mut outcome: Option<String> = f.row.get("reply_outcome");
    if text.is_none()
        && let Some(r) = peers.reply(f.id).await
    {
        sqlx::query(
            "UPDATE cases SET reply_text = $2, reply_outcome = COALESCE(reply_outcome, $3)
             WHERE id = $1",
        )
        .bind(f.id)
        .bind(&r.text)
        .bind(&r.outcome)
        .execute(pool)
        .await
        .map_err(|e| xf_store::problem(&e))?;
        text = Some(r.text);
        outcome = outcome.or(Some(r.outcome));
    }
    Ok(Some(serde_json::json!({
        "outcome": outcome,
        "text": text,
        "replied_at": replied_at,
    })))
}

fn window(f: &Found, s: &CitizenSettings) -> Option<DateTime<Utc>> {
    f.window_until.or_else(|| {
        f.replied_at
            .map(|r| r + Duration::days(i64::from(s.review_window_days)))
    })
}

/// The status timeline of a case, for the petitioner.
#[utoipa::path(get, path = "/v1/public/cases/{registration_no}", params(("registration_no" = String, Path), CodeQuery),
    responses((status = 200, description = "Status and timeline, no personal data"), (status = 404, description = "Unknown number or wrong code"), (status = 429)))]
pub async fn status(
    path: web::Path<String>,
    q: web::Query<CodeQuery>,
    pool: web::Data<PgPool>,
    settings: web::Data<CitizenSettings>,
    peers: web::Data<Peers>,
) -> Result<HttpResponse, Problem> {
    let no = path.into_inner();
    let f = find(pool.get_ref(), &no, &q.code, false).await?;
    let row = &f.row;
    let reply = reply_of(pool.get_ref(), &peers, &f).await?;
    let reviews: Vec<serde_json::Value> = sqlx::query(
        "SELECT kind, reason, requested_at, outcome, answered_at FROM reviews
         WHERE case_id = $1 ORDER BY level",
    )
    .bind(f.id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| xf_store::problem(&e))?
    .into_iter()
    .map(|r| {
        serde_json::json!({
            "kind": r.get::<String, _>("kind"),
            "reason": r.get::<Option<String>, _>("reason"),
            "requested_at": r.get::<DateTime<Utc>, _>("requested_at"),
            "outcome": r.get::<Option<String>, _>("outcome"),
            "answered_at": r.get::<Option<DateTime<Utc>>, _>("answered_at"),
        })
    })
    .collect();
    let follow_up = sqlx::query(
        "SELECT scheduled_at, completed_at, reached, satisfaction FROM follow_ups
         WHERE case_id = $1 ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(f.id)
    .fetch_optional(pool.get_ref())
    .await
    .map_err(|e| xf_store::problem(&e))?
    .map(|r| {
        serde_json::json!({
            "scheduled_at": r.get::<DateTime<Utc>, _>("scheduled_at"),
            "completed_at": r.get::<Option<DateTime<Utc>>, _>("completed_at"),
            "reached": r.get::<Option<bool>, _>("reached"),
            "satisfaction": r.get::<Option<String>, _>("satisfaction"),
        })
    });
    // What the petitioner was told, and how (never for anonymous items).
    let notices: Vec<serde_json::Value> = sqlx::query(
        "SELECT kind, at, channel FROM petitioner_notices WHERE case_id = $1 ORDER BY at, id",
    )
    .bind(f.id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| xf_store::problem(&e))?
    .into_iter()
    .map(|r| {
        serde_json::json!({
            "kind": r.get::<String, _>("kind"),
            "at": r.get::<DateTime<Utc>, _>("at"),
            "channel": r.get::<String, _>("channel"),
        })
    })
    .collect();
    let confidential: bool = row.get("confidential");
    let acceptance = match f.status.as_str() {
        "registered" | "linked" => serde_json::Value::Null,
        "not_accepted" => {
            let last = sqlx::query_scalar::<_, serde_json::Value>(
                "SELECT detail FROM case_timeline WHERE case_id = $1 AND kind = 'not_accepted'
                 ORDER BY at DESC, id DESC LIMIT 1",
            )
            .bind(f.id)
            .fetch_optional(pool.get_ref())
            .await
            .map_err(|e| xf_store::problem(&e))?
            .unwrap_or_default();
            serde_json::json!({"accepted": false, "reason": last.get("reason"),
                "referral_channel": last.get("referral_channel")})
        }
        "dispatched" => serde_json::json!({"accepted": null}),
        _ => serde_json::json!({"accepted": true}),
    };
    let linked = row
        .get::<Option<String>, _>("linked_registration_no")
        .map(|n| serde_json::json!({"registration_no": n}));
    let timeline: Vec<serde_json::Value> = sqlx::query(
        "SELECT at, kind, detail FROM case_timeline WHERE case_id = $1 ORDER BY at, id",
    )
    .bind(f.id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| xf_store::problem(&e))?
    .into_iter()
    .map(|r| {
        let kind: String = r.get("kind");
        let detail: serde_json::Value = r.get("detail");
        serde_json::json!({
            "at": r.get::<DateTime<Utc>, _>("at"),
            "kind": kind,
            "detail": public_detail(&kind, &detail),
        })
    })
    .collect();
    // The latest appointment scheduling booked for the case (约访): time, place, status.
    let appointment = sqlx::query(
        "SELECT starts_at, ends_at, place, status FROM appointments WHERE case_id = $1
         ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(f.id)
    .fetch_optional(pool.get_ref())
    .await
    .map_err(|e| xf_store::problem(&e))?
    .map(|r| {
        serde_json::json!({
            "starts_at": r.get::<DateTime<Utc>, _>("starts_at"),
            "ends_at": r.get::<DateTime<Utc>, _>("ends_at"),
            "place": r.get::<String, _>("place"),
            "status": r.get::<String, _>("status"),
        })
    });
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "registration_no": no,
        "status": f.status,
        "appointment": appointment,
        "channel": row.get::<String, _>("channel"),
        "category": row.get::<String, _>("category"),
        "received_at": row.get::<DateTime<Utc>, _>("received_at"),
        // An accusation's handling unit is not told (R13).
        "handled_by": if confidential { None } else { row.get::<Option<String>, _>("unit_name") },
        "acceptance": acceptance,
        "due_at": row.get::<Option<DateTime<Utc>>, _>("due_at"),
        "deadline": row.get::<Option<DateTime<Utc>>, _>("due_at").map(|d| serde_json::json!({
            "stage": row.get::<Option<String>, _>("due_stage"),
            "due_at": d,
            "policy_id": row.get::<Option<String>, _>("due_policy"),
        })),
        "anonymous": row.get::<bool, _>("anonymous"),
        // 首接首办 (R9): the office that first received the matter.
        "first_receiver_office": row.get::<String, _>("office_code"),
        "reply": reply,
        "linked_case": linked,
        "reviews": reviews,
        "follow_up": follow_up,
        "satisfaction": f.satisfaction,
        "notices": notices,
        "replied_at": f.replied_at,
        "review_window_until": window(&f, &settings),
        "review_state": f.review_state,
        "leader_owner": row.get::<Option<String>, _>("leader_owner"),
        "timeline": timeline,
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub code: String,
    /// review (复查) | rereview (复核)
    pub kind: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub registration_no: String,
    pub status: String,
}

/// Asks the next tier up to review (复查) or re-review (复核) the reply.
#[utoipa::path(post, path = "/v1/public/cases/{registration_no}/review", request_body = ReviewRequest,
    params(("registration_no" = String, Path)),
    responses((status = 202, body = Accepted), (status = 404), (status = 409, description = "No reply yet, window closed, or not the right stage"), (status = 422), (status = 429)))]
pub async fn review(
    path: web::Path<String>,
    body: ValidJson<ReviewRequest>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
    settings: web::Data<CitizenSettings>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let kind = match b.kind.as_str() {
        "review" => ReviewKind::Review,
        "rereview" => ReviewKind::Rereview,
        _ => {
            return Err(Problem::validation(vec![FieldError::new(
                "kind",
                "must be review or rereview",
            )]));
        }
    };
    if b.reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > crate::domain::register::TEXT_MAX)
    {
        return Err(Problem::validation(vec![FieldError::new(
            "reason",
            "must be at most 4000 characters",
        )]));
    }
    let no = path.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(|e| xf_store::problem(&e))?;
    let f = find(&mut *tx, &no, &b.code, true).await?;
    let Some(replied) = f.replied_at else {
        return Err(Problem::conflict("there is no reply to review yet"));
    };
    let until = window(&f, &settings).unwrap_or(replied);
    if now > until {
        return Err(Problem::conflict(format!(
            "the window to ask for a review closed at {}",
            until.to_rfc3339()
        )));
    }
    let ok = match kind {
        ReviewKind::Review => f.reviews == 0 && f.review_state == "none",
        _ => f.reviews == 1 && f.review_state == "none",
    };
    if !ok {
        return Err(Problem::conflict(match kind {
            ReviewKind::Review => "a review was already requested for this case",
            _ => "a re-review follows the reply to a review, once",
        }));
    }
    let state = if kind == ReviewKind::Review {
        "review_requested"
    } else {
        "rereview_requested"
    };
    sqlx::query(
        "UPDATE cases SET review_state = $2, reviews_requested = reviews_requested + 1, updated_at = $3
         WHERE id = $1",
    )
    .bind(f.id)
    .bind(state)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| xf_store::problem(&e))?;
    sqlx::query(
        "INSERT INTO reviews (case_id, level, kind, reason, requested_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(f.id)
    .bind(if kind == ReviewKind::Review { 1i16 } else { 2 })
    .bind(&b.kind)
    .bind(b.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| xf_store::problem(&e))?;
    sqlx::query("INSERT INTO case_timeline (case_id, at, kind, detail) VALUES ($1, $2, 'review_requested', $3)")
        .bind(f.id)
        .bind(now)
        .bind(serde_json::json!({"kind": b.kind}))
        .execute(&mut *tx)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    emit(
        tx,
        &outbox,
        &f,
        now,
        Payload::ReviewRequested(ReviewRequested {
            kind: kind as i32,
            reason_category: String::new(),
        }),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        registration_no: no,
        status: state.into(),
    }))
}

/// Writes the petitioner's event for the case and commits.
async fn emit(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    outbox: &Outbox,
    f: &Found,
    now: DateTime<Utc>,
    payload: Payload,
) -> Result<(), Problem> {
    let env = xf_events::envelope(
        f.id,
        crate::SERVICE,
        tier_of_code(&f.matter_code),
        &f.matter_code,
        now,
        payload,
    );
    outbox
        .put(&mut tx, &env)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    tx.commit().await.map_err(|e| xf_store::problem(&e))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SatisfactionRequest {
    pub code: String,
    /// 1 (very unsatisfied) to 5 (very satisfied)
    pub score: i64,
}

/// Rates the reply (once).
#[utoipa::path(post, path = "/v1/public/cases/{registration_no}/satisfaction", request_body = SatisfactionRequest,
    params(("registration_no" = String, Path)),
    responses((status = 202, body = Accepted), (status = 404), (status = 409), (status = 422), (status = 429)))]
pub async fn satisfaction(
    path: web::Path<String>,
    body: ValidJson<SatisfactionRequest>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    if !(1..=5).contains(&b.score) {
        return Err(Problem::validation(vec![FieldError::new(
            "score",
            "must be 1 to 5",
        )]));
    }
    let no = path.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(|e| xf_store::problem(&e))?;
    let f = find(&mut *tx, &no, &b.code, true).await?;
    if f.replied_at.is_none() && f.status != "closed" {
        return Err(Problem::conflict("a rating follows the reply"));
    }
    if f.satisfaction.is_some() {
        return Err(Problem::conflict("this case was already rated"));
    }
    sqlx::query("UPDATE cases SET satisfaction = $2, updated_at = $3 WHERE id = $1")
        .bind(f.id)
        .bind(b.score as i32)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    emit(
        tx,
        &outbox,
        &f,
        now,
        Payload::SatisfactionRecorded(SatisfactionRecorded {
            score: b.score as u32,
        }),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        registration_no: no,
        status: "rated".into(),
    }))
}
