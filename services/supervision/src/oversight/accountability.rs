//! Accountability (R17): a missed deadline of a case that was followed by a repeat or
//! skip-level petition on the same matter is recorded against the unit that missed it,
//! and reported as JSON or CSV.

use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;
use xf_auth::Authenticated;
use xf_bus::HandleError;
use xf_events::Event;
use xf_events::v1::DuplicateLinked;
use xf_http::{FieldError, Problem};

use super::{OVERSEERS, db, parse_time, scope_filter};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(report, perfunctory))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/accountability", web::get().to(report))
        .route("/v1/accountability/perfunctory", web::get().to(perfunctory));
}

/// A repeat petition was linked to an original case: each deadline the original missed
/// becomes one record against its unit. Idempotent per (new case, clock).
///
/// A deadline counts as missed when the clock was marked breached, or when it ran past
/// its due moment before it stopped (or before this event, while still running). The
/// petitioner's own windows (review, re-review) are not the unit's deadlines.
pub(super) async fn linked(
    tx: &mut PgConnection,
    ev: &Event,
    d: &DuplicateLinked,
) -> Result<(), HandleError> {
    let original = Uuid::parse_str(&d.original_case_id)
        .map_err(|e| HandleError::Permanent(format!("DuplicateLinked.original_case_id: {e}")))?;
    let followed_by = if d.skip_level { "skip_level" } else { "repeat" };
    sqlx::query(
        "INSERT INTO accountability_records (unit_id, jurisdiction_code, original_case_id,
             clock_id, stage, due_at, stopped_at, overdue_secs, followed_by, new_case_id, at)
         SELECT COALESCE(NULLIF(c.unit_id, ''), $3), c.jurisdiction_code, c.case_id, c.id,
                c.stage, c.due_at, c.stopped_at,
                GREATEST(0, EXTRACT(EPOCH FROM (COALESCE(c.stopped_at, $5) - c.due_at)))::bigint,
                $4, $2, $5
         FROM clocks c
         WHERE c.case_id = $1
           AND c.stage NOT IN ('review_window', 'rereview_window')
           AND (c.breached_at IS NOT NULL
                OR (c.state <> 'paused' AND c.due_at < COALESCE(c.stopped_at, $5)))
         ON CONFLICT (new_case_id, clock_id) DO NOTHING",
    )
    .bind(original)
    .bind(ev.case_id)
    .bind(&d.original_unit_id)
    .bind(followed_by)
    .bind(ev.occurred_at)
    .execute(&mut *tx)
    .await?;
    // R17: back on the same matter while the reply's review window is open — the reply
    // did not settle it. Flagged against the unit that replied.
    sqlx::query(
        "INSERT INTO perfunctory_flags (original_case_id, new_case_id, unit_id, jurisdiction_code,
             replied_at, window_until, followed_by, at)
         SELECT c.case_id, $2, COALESCE(NULLIF(c.unit_id, ''), $3), c.jurisdiction_code,
                c.started_at, c.due_at, $4, $5
         FROM clocks c
         WHERE c.case_id = $1 AND c.stage IN ('review_window', 'rereview_window')
           AND c.started_at <= $5 AND c.due_at >= $5
         ORDER BY c.started_at DESC LIMIT 1
         ON CONFLICT (new_case_id) DO NOTHING",
    )
    .bind(original)
    .bind(ev.case_id)
    .bind(&d.original_unit_id)
    .bind(followed_by)
    .bind(ev.occurred_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct FlagQuery {
    jurisdiction: Option<String>,
    unit_id: Option<String>,
}

/// Perfunctory-handling flags (R17) under a jurisdiction: a replied case whose
/// petitioner came back on the same matter, or over the tier, inside the review window.
#[utoipa::path(
    get,
    path = "/v1/accountability/perfunctory",
    tag = "accountability",
    params(FlagQuery),
    responses(
        (status = 200, description = "{jurisdiction, items: [{unit_id, jurisdiction_code, original_case_id, new_case_id, replied_at, window_until, followed_by, at}], by_unit: [{unit_id, flags}]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn perfunctory(
    user: Authenticated,
    q: web::Query<FlagQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    u.require_any_role(&OVERSEERS)?;
    let mut errs: Vec<FieldError> = Vec::new();
    let scope = scope_filter(u, q.jurisdiction.as_deref(), &mut errs)?;
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let rows = sqlx::query(
        "SELECT unit_id, jurisdiction_code, original_case_id, new_case_id, replied_at,
                window_until, followed_by, at
         FROM perfunctory_flags f
         WHERE jurisdiction_code LIKE $1 AND ($2::text IS NULL OR unit_id = $2)
           AND ($3::text IS NULL OR NOT EXISTS (SELECT 1 FROM oversight_cases o
                 WHERE o.case_id IN (f.original_case_id, f.new_case_id)
                   AND o.excluded_unit_id = $3))
         ORDER BY at DESC, id DESC LIMIT 10000",
    )
    .bind(format!("{scope}%"))
    .bind(&q.unit_id)
    // The accused unit never learns of a case it is accused in (R13).
    .bind(u.unit.as_deref().filter(|x| !x.is_empty()))
    .fetch_all(pool.get_ref())
    .await
    .map_err(db)?;
    let mut by_unit: std::collections::BTreeMap<String, i64> = Default::default();
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let unit: String = r.get("unit_id");
            *by_unit.entry(unit.clone()).or_default() += 1;
            serde_json::json!({
                "unit_id": unit,
                "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
                "original_case_id": r.get::<Uuid, _>("original_case_id"),
                "new_case_id": r.get::<Uuid, _>("new_case_id"),
                "replied_at": r.get::<DateTime<Utc>, _>("replied_at"),
                "window_until": r.get::<DateTime<Utc>, _>("window_until"),
                "followed_by": r.get::<String, _>("followed_by"),
                "at": r.get::<DateTime<Utc>, _>("at"),
            })
        })
        .collect();
    let by_unit: Vec<serde_json::Value> = by_unit
        .into_iter()
        .map(|(unit_id, flags)| serde_json::json!({"unit_id": unit_id, "flags": flags}))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "jurisdiction": scope, "items": items, "by_unit": by_unit,
    })))
}

/// Chinese names of the clock stages, for the export.
fn stage_label(stage: &str) -> &'static str {
    match stage {
        "acceptance" => "受理告知",
        "handling" => "办理",
        "review_window" => "复查申请期",
        "review" => "复查",
        "rereview_window" => "复核申请期",
        "rereview" => "复核",
        "follow_up" => "回访",
        "reply_after_done" => "办结答复",
        "progress_notice" => "进展告知",
        "quick_reply" => "快速答复",
        "card" => "督办卡",
        _ => "",
    }
}

fn followed_by_label(f: &str) -> &'static str {
    match f {
        "skip_level" => "越级信访",
        "repeat" => "重复信访",
        _ => "",
    }
}

#[derive(Debug, Clone, Serialize)]
struct Record {
    unit_id: String,
    jurisdiction_code: String,
    original_case_id: Uuid,
    stage: String,
    stage_name: &'static str,
    due_at: DateTime<Utc>,
    stopped_at: Option<DateTime<Utc>>,
    overdue_secs: i64,
    followed_by: String,
    followed_by_name: &'static str,
    new_case_id: Uuid,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
struct UnitTotal {
    unit_id: String,
    records: i64,
    overdue_secs: i64,
    repeat: i64,
    skip_level: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    jurisdiction: Option<String>,
    from: Option<String>,
    to: Option<String>,
    unit_id: Option<String>,
    format: Option<String>,
}

/// The most rows one report returns.
const MAX_ROWS: i64 = 50_000;

fn wants_csv(req: &HttpRequest, format: Option<&str>) -> bool {
    match format {
        Some(f) => f == "csv",
        None => req
            .headers()
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',').any(|p| {
                    p.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
                })
            }),
    }
}

/// Accountability records under a jurisdiction, optionally for a period and one unit;
/// JSON, or CSV with `Accept: text/csv` or `format=csv`.
#[utoipa::path(
    get,
    path = "/v1/accountability",
    tag = "accountability",
    params(ReportQuery),
    responses(
        (status = 200, description = "{jurisdiction, from, to, items, by_unit, truncated}, or CSV with Accept: text/csv or format=csv"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn report(
    req: HttpRequest,
    user: Authenticated,
    q: web::Query<ReportQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    u.require_any_role(&OVERSEERS)?;
    let q = q.into_inner();
    let mut errs: Vec<FieldError> = Vec::new();
    let scope = scope_filter(u, q.jurisdiction.as_deref(), &mut errs)?;
    let from = parse_time("from", q.from.as_deref(), &mut errs);
    let to = parse_time("to", q.to.as_deref(), &mut errs);
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        errs.push(FieldError::new("from", "must be before to"));
    }
    if let Some(f) = &q.format
        && !["json", "csv"].contains(&f.as_str())
    {
        errs.push(FieldError::new("format", "json or csv"));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT unit_id, jurisdiction_code, original_case_id, stage, due_at, stopped_at,
                overdue_secs, followed_by, new_case_id, at
         FROM accountability_records a WHERE jurisdiction_code LIKE ",
    );
    qb.push_bind(format!("{scope}%"));
    if let Some(unit) = u.unit.as_deref().filter(|x| !x.is_empty()) {
        // Neither the original nor the repeat may be a case the token's unit is
        // accused in (R13), whatever its role.
        qb.push(
            " AND NOT EXISTS (SELECT 1 FROM oversight_cases o
                WHERE o.case_id IN (a.original_case_id, a.new_case_id)
                  AND o.excluded_unit_id = ",
        )
        .push_bind(unit.to_owned())
        .push(")");
    }
    if let Some(f) = from {
        qb.push(" AND at >= ").push_bind(f);
    }
    if let Some(t) = to {
        qb.push(" AND at < ").push_bind(t);
    }
    if let Some(unit) = &q.unit_id {
        qb.push(" AND unit_id = ").push_bind(unit.clone());
    }
    qb.push(" ORDER BY at, id LIMIT ").push_bind(MAX_ROWS + 1);
    let mut records: Vec<Record> = qb
        .build()
        .fetch_all(pool.get_ref())
        .await
        .map_err(db)?
        .iter()
        .map(|r| {
            let stage: String = r.get("stage");
            let followed_by: String = r.get("followed_by");
            Record {
                unit_id: r.get("unit_id"),
                jurisdiction_code: r.get("jurisdiction_code"),
                original_case_id: r.get("original_case_id"),
                stage_name: stage_label(&stage),
                stage,
                due_at: r.get("due_at"),
                stopped_at: r.get("stopped_at"),
                overdue_secs: r.get("overdue_secs"),
                followed_by_name: followed_by_label(&followed_by),
                followed_by,
                new_case_id: r.get("new_case_id"),
                at: r.get("at"),
            }
        })
        .collect();
    let truncated = records.len() > MAX_ROWS as usize;
    records.truncate(MAX_ROWS as usize);
    if wants_csv(&req, q.format.as_deref()) {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"accountability-{scope}.csv\""),
            ))
            .insert_header(("X-Truncated", if truncated { "true" } else { "false" }))
            .body(to_csv(&records)));
    }
    let mut by_unit: Vec<UnitTotal> = Vec::new();
    for r in &records {
        let i = match by_unit.iter().position(|t| t.unit_id == r.unit_id) {
            Some(i) => i,
            None => {
                by_unit.push(UnitTotal {
                    unit_id: r.unit_id.clone(),
                    records: 0,
                    overdue_secs: 0,
                    repeat: 0,
                    skip_level: 0,
                });
                by_unit.len() - 1
            }
        };
        let t = &mut by_unit[i];
        t.records += 1;
        t.overdue_secs += r.overdue_secs;
        if r.followed_by == "skip_level" {
            t.skip_level += 1;
        } else {
            t.repeat += 1;
        }
    }
    by_unit.sort_by(|a, b| b.records.cmp(&a.records).then(a.unit_id.cmp(&b.unit_id)));
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "jurisdiction": scope,
        "from": from,
        "to": to,
        "items": records,
        "by_unit": by_unit,
        "truncated": truncated,
    })))
}

/// The export's columns.
const CSV_HEADER: [&str; 13] = [
    "unit_id",
    "jurisdiction_code",
    "original_case_id",
    "stage",
    "stage_name",
    "due_at",
    "stopped_at",
    "overdue_seconds",
    "overdue_days",
    "followed_by",
    "followed_by_name",
    "new_case_id",
    "recorded_at",
];

/// Quotes a field when it needs it (RFC 4180); a text that a spreadsheet would read as
/// a formula gets a leading apostrophe.
fn field(v: &str, text: bool) -> String {
    let v = if text && v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\r', '\n']) || v.starts_with(' ') || v.ends_with(' ') {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The records as CSV: a UTF-8 byte order mark (spreadsheets then read the Chinese
/// names correctly), a header row and CRLF line ends.
fn to_csv(records: &[Record]) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&CSV_HEADER.join(","));
    out.push_str("\r\n");
    for r in records {
        let row = [
            field(&r.unit_id, true),
            field(&r.jurisdiction_code, true),
            r.original_case_id.to_string(),
            field(&r.stage, true),
            field(r.stage_name, true),
            ts(r.due_at),
            r.stopped_at.map(ts).unwrap_or_default(),
            r.overdue_secs.to_string(),
            format!("{:.1}", r.overdue_secs as f64 / 86_400.0),
            field(&r.followed_by, true),
            field(r.followed_by_name, true),
            r.new_case_id.to_string(),
            ts(r.at),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("abc", true), "abc");
        assert_eq!(field("a,b", true), "\"a,b\"");
        assert_eq!(field("say \"hi\"", true), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\nbreak", true), "\"line\nbreak\"");
        assert_eq!(field("=SUM(A1)", true), "'=SUM(A1)");
        assert_eq!(field("乡镇办", true), "乡镇办");
    }

    #[test]
    fn csv_starts_with_a_bom_and_a_header() {
        let csv = to_csv(&[]);
        assert!(csv.starts_with('\u{feff}'));
        assert!(csv.contains("unit_id,jurisdiction_code"));
        assert!(csv.ends_with("\r\n"));
    }
}
