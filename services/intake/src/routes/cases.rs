use actix_web::{HttpResponse, web};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use tracing::Instrument;
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_bus::Outbox;
use xf_events::v1::{CaseRegistered, Channel};
use xf_events::{Payload, tier_of_code};
use xf_http::{FieldError, Problem, ValidJson};
use xf_jurisdiction::{Code, Tree};

const SUMMARY_MAX: usize = 4000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// letter | visit | phone | online
    pub channel: String,
    /// Where the matter arose: 6, 9 or 12 digits, inside the registrar's jurisdiction.
    pub jurisdiction_code: String,
    /// A category code from the taxonomy.
    pub category: String,
    /// The main issue.
    pub summary: String,
    /// When the item was received; defaults to now.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct Registered {
    pub case_id: Uuid,
    pub registration_no: String,
    pub status: &'static str,
}

fn channel(s: &str) -> Option<Channel> {
    match s {
        "letter" => Some(Channel::Letter),
        "visit" => Some(Channel::Visit),
        "phone" => Some(Channel::Phone),
        "online" => Some(Channel::Online),
        _ => None,
    }
}

async fn known_category(pool: &PgPool, code: &str) -> Result<bool, Problem> {
    sqlx::query("SELECT 1 FROM categories WHERE code = $1 AND active")
        .bind(code)
        .fetch_optional(pool)
        .await
        .map(|r| r.is_some())
        .map_err(|e| Problem::unavailable(&e))
}

/// Registers a case: one row in the register, a timeline entry and a
/// `CaseRegistered` event in the outbox, in one transaction.
pub async fn register(
    user: Authenticated,
    body: ValidJson<NewCase>,
    pool: web::Data<PgPool>,
    tree: web::Data<Tree>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let claims = user.0;
    claims.require_any_role(&[roles::REGISTRAR])?;
    let b = body.into_inner();
    let now = clock.now();
    let mut errors = Vec::new();
    let ch = channel(&b.channel);
    if ch.is_none() {
        errors.push(FieldError::new(
            "channel",
            "must be one of letter, visit, phone, online",
        ));
    }
    let code = match Code::parse(&b.jurisdiction_code) {
        Ok(c) if tree.contains(&c) => Some(c),
        Ok(_) => {
            errors.push(FieldError::new(
                "jurisdiction_code",
                "is not a known jurisdiction code",
            ));
            None
        }
        Err(e) => {
            errors.push(FieldError::new("jurisdiction_code", e.to_string()));
            None
        }
    };
    let summary = b.summary.trim();
    if summary.is_empty() {
        errors.push(FieldError::new("summary", "must not be empty"));
    } else if summary.chars().count() > SUMMARY_MAX {
        errors.push(FieldError::new(
            "summary",
            format!("must be at most {SUMMARY_MAX} characters"),
        ));
    }
    if b.category.is_empty() || !known_category(&pool, &b.category).await? {
        errors.push(FieldError::new("category", "is not a known category code"));
    }
    if b.received_at.is_some_and(|t| t > now) {
        errors.push(FieldError::new("received_at", "must not be in the future"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let (Some(ch), Some(code)) = (ch, code) else {
        return Err(Problem::internal(&"validated fields missing"));
    };
    claims.require_scope(code.as_str())?;

    let case_id = Uuid::now_v7();
    let tier = tier_of_code(code.as_str());
    let span = tracing::info_span!(
        "register",
        xf.case_id = %case_id,
        xf.tier = xf_events::tier_name(tier),
        xf.jurisdiction = %code,
    );
    let office = claims.jurisdiction.clone();
    let received_at = b.received_at.unwrap_or(now);
    let registration_no = async {
        let mut tx = pool.begin().await?;
        let year = now.with_timezone(&Shanghai).year();
        // Gap-free per office and year: the counter row is locked until commit, and a
        // rolled-back registration gives its number back.
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
        sqlx::query(
            "INSERT INTO cases (id, registration_no, office_code, channel, category, matter_code,
                 summary, status, registered_by, received_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'registered', $8, $9, $10, $10)",
        )
        .bind(case_id)
        .bind(&registration_no)
        .bind(&office)
        .bind(&b.channel)
        .bind(&b.category)
        .bind(code.as_str())
        .bind(summary)
        .bind(&claims.sub)
        .bind(received_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO case_timeline (case_id, at, kind) VALUES ($1, $2, 'registered')")
            .bind(case_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let env = xf_events::envelope(
            case_id,
            crate::SERVICE,
            tier,
            code.as_str(),
            now,
            Payload::CaseRegistered(CaseRegistered {
                registration_no: registration_no.clone(),
                channel: ch as i32,
                category: b.category.clone(),
                matter_jurisdiction_code: code.to_string(),
                office_jurisdiction_code: office.clone(),
                summary: summary.to_owned(),
                received_at: Some(xf_events::timestamp(received_at)),
                ..Default::default()
            }),
        );
        outbox.put(&mut tx, &env).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(registration_no)
    }
    .instrument(span)
    .await
    .map_err(|e| Problem::unavailable(&e))?;

    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/cases/{case_id}")))
        .json(Registered {
            case_id,
            registration_no,
            status: "registered",
        }))
}

#[derive(Debug, Serialize)]
struct TimelineEntry {
    at: DateTime<Utc>,
    kind: String,
    detail: serde_json::Value,
}

/// One case from the register with its timeline (scoped by the caller's jurisdiction).
pub async fn get(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let row = sqlx::query(
        "SELECT registration_no, office_code, channel, category, matter_code, summary, status,
                handling_unit, received_at, created_at, updated_at
         FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .ok_or_else(|| Problem::not_found("case"))?;
    let matter: String = row.get("matter_code");
    user.0.require_scope(&matter)?;
    let timeline: Vec<TimelineEntry> = sqlx::query(
        "SELECT at, kind, detail FROM case_timeline WHERE case_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?
    .into_iter()
    .map(|r| TimelineEntry {
        at: r.get("at"),
        kind: r.get("kind"),
        detail: r.get("detail"),
    })
    .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "registration_no": row.get::<String, _>("registration_no"),
        "office_code": row.get::<String, _>("office_code"),
        "channel": row.get::<String, _>("channel"),
        "category": row.get::<String, _>("category"),
        "jurisdiction_code": matter,
        "summary": row.get::<String, _>("summary"),
        "status": row.get::<String, _>("status"),
        "handling_unit": row.get::<Option<String>, _>("handling_unit"),
        "received_at": row.get::<DateTime<Utc>, _>("received_at"),
        "created_at": row.get::<DateTime<Utc>, _>("created_at"),
        "updated_at": row.get::<DateTime<Utc>, _>("updated_at"),
        "timeline": timeline,
    })))
}
