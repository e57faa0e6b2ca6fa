//! The resolution ledger (台账) of an office for a period, and the archive (立卷归档).

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgPool, Row};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_http::Problem;

use super::Format;
use crate::domain::query::{self, Raw};
use crate::export;
use crate::jobs::Jobs;
use crate::store::stats::bounds;

#[derive(utoipa::OpenApi)]
#[openapi(paths(ledger, archive))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/ledger", web::get().to(ledger))
        .route("/v1/archive", web::post().to(archive));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// First closing day (default 1 January of this year).
    from: Option<String>,
    /// Last closing day, inclusive (default today).
    to: Option<String>,
    jurisdiction: Option<String>,
    /// json (default), csv (streamed, no row cap) or xlsx.
    format: Option<String>,
}

/// The ledger's columns.
pub const COLUMNS: [&str; 14] = [
    "registration_no",
    "category",
    "channel",
    "unit_id",
    "tier",
    "matter_code",
    "registered_at",
    "accepted_at",
    "replied_at",
    "closed_at",
    "paused_days",
    "result",
    "satisfaction_score",
    "archived",
];

/// Rows fetched per round trip.
const PAGE: i64 = 5000;

struct Cursor {
    pool: PgPool,
    scope: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    excluded: Option<String>,
    after: Option<(DateTime<Utc>, Uuid)>,
    header: bool,
}

async fn page(c: &Cursor) -> Result<Vec<(DateTime<Utc>, Uuid, Vec<Value>)>, sqlx::Error> {
    let (at, id) = c.after.unzip();
    let rows = sqlx::query(
        "SELECT case_id, registration_no, category, channel, unit_id, tier, matter_code,
                registered_at, accepted_at, replied_at, closed_at,
                (paused_secs + 43200) / 86400 AS paused_days, COALESCE(reply_outcome, status) AS result, satisfaction_score,
                archived_at IS NOT NULL AS archived
         FROM case_facts
         WHERE matter_code LIKE $1 || '%' AND closed_at >= $2 AND closed_at < $3
           AND ($4::text IS NULL OR excluded_unit_id IS DISTINCT FROM $4)
           AND ($5::timestamptz IS NULL OR (closed_at, case_id) > ($5, $6::uuid))
         ORDER BY closed_at, case_id LIMIT $7",
    )
    .bind(&c.scope)
    .bind(c.start)
    .bind(c.end)
    .bind(&c.excluded)
    .bind(at)
    .bind(id)
    .bind(PAGE)
    .fetch_all(&c.pool)
    .await?;
    let t = |r: &sqlx::postgres::PgRow, k: &str| json!(r.get::<Option<DateTime<Utc>>, _>(k));
    let s = |r: &sqlx::postgres::PgRow, k: &str| json!(r.get::<Option<String>, _>(k));
    Ok(rows
        .iter()
        .map(|r| {
            let closed: DateTime<Utc> = r.get("closed_at");
            (
                closed,
                r.get("case_id"),
                vec![
                    s(r, "registration_no"),
                    s(r, "category"),
                    s(r, "channel"),
                    s(r, "unit_id"),
                    json!(r.get::<String, _>("tier")),
                    s(r, "matter_code"),
                    t(r, "registered_at"),
                    t(r, "accepted_at"),
                    t(r, "replied_at"),
                    json!(closed),
                    json!(r.get::<i64, _>("paused_days")),
                    s(r, "result"),
                    json!(r.get::<Option<i32>, _>("satisfaction_score")),
                    json!(r.get::<bool, _>("archived")),
                ],
            )
        })
        .collect())
}

/// The cases closed in the period under the jurisdiction, oldest closing first.
#[utoipa::path(get, path = "/v1/ledger", tag = "ledger", params(LedgerQuery),
    responses(
        (status = 200, description = "format=json (default): {columns, rows: [[...]]}; format=csv: streamed with no row cap; format=xlsx: one sheet Ledger",
            content(("application/json"), ("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn ledger(
    user: Authenticated,
    q: web::Query<LedgerQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let fmt = super::format(q.format.as_deref())?;
    let scope = super::scope(&user.0, q.jurisdiction.as_deref(), &pool).await?;
    let raw = Raw {
        from: q.from.as_deref(),
        to: q.to.as_deref(),
        ..Raw::default()
    };
    let p = query::parse(&raw, scope, super::today(&clock)).map_err(super::invalid)?;
    let (start, end) = bounds(p.from, p.to);
    let mut c = Cursor {
        pool: pool.get_ref().clone(),
        scope: p.jurisdiction.clone(),
        start,
        end,
        excluded: user.0.unit.clone().filter(|u| !u.is_empty()),
        after: None,
        header: true,
    };
    let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    let name = format!("ledger-{}-{}-{}", p.jurisdiction, p.from, p.to);
    if fmt == Format::Csv {
        let stream = futures::stream::unfold(Some(c), |state| async move {
            let mut c = state?;
            let mut out = String::new();
            if c.header {
                c.header = false;
                out.push('\u{feff}');
                out.push_str(&export::line(
                    &COLUMNS.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>(),
                ));
            }
            match page(&c).await {
                Err(e) => Some((Err(e), None)),
                Ok(rows) if rows.is_empty() => {
                    if out.is_empty() {
                        None
                    } else {
                        Some((Ok(Bytes::from(out)), None))
                    }
                }
                Ok(rows) => {
                    for (_, _, r) in &rows {
                        out.push_str(&export::line(
                            &r.iter().map(export::text).collect::<Vec<_>>(),
                        ));
                    }
                    c.after = rows.last().map(|(a, i, _)| (*a, *i));
                    Some((Ok(Bytes::from(out)), Some(c)))
                }
            }
        });
        return Ok(HttpResponse::Ok()
            .content_type(export::CSV)
            .insert_header((
                "content-disposition",
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .streaming(stream));
    }
    let mut all = Vec::new();
    loop {
        let rows = page(&c).await.map_err(|e| xf_store::problem(&e))?;
        if rows.is_empty() {
            break;
        }
        c.after = rows.last().map(|(a, i, _)| (*a, *i));
        all.extend(rows.into_iter().map(|(_, _, r)| r));
    }
    Ok(match fmt {
        Format::Xlsx => {
            let bytes = export::xlsx(&[export::Sheet {
                name: "Ledger",
                header,
                rows: all,
            }])
            .map_err(|e| Problem::internal(&e))?;
            super::download(export::XLSX, &format!("{name}.xlsx"), bytes)
        }
        _ => HttpResponse::Ok().json(json!({
            "jurisdiction": p.jurisdiction, "from": p.from, "to": p.to,
            "columns": COLUMNS, "rows": all,
        })),
    })
}

/// Marks the closed cases under the token's jurisdiction older than the archive age
/// (`jobs.archive_after_days`) archived now; the background job does it everywhere.
/// Their ledger entries stay, whole. 422 naming `jurisdiction` when no case arose there.
#[utoipa::path(post, path = "/v1/archive", tag = "ledger",
    responses(
        (status = 200, description = "{archived: n}"),
        (status = 403, description = "Needs supervisor or admin", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn archive(user: Authenticated, jobs: web::Data<Jobs>) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&["supervisor", "admin"])?;
    let scope = super::acting_scope(&user.0, &jobs.pool).await?;
    let n = jobs
        .archive_in(&scope)
        .await
        .map_err(|e| xf_store::problem(&e))?;
    Ok(HttpResponse::Ok().json(json!({"archived": n})))
}
