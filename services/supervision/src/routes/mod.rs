//! supervision's HTTP API: a case's clocks, pausing them, deadline policies and the
//! sweeper; the oversight routes (cards, ownership, monitor, accountability).

use std::collections::BTreeMap;
use xf_http::openapi::BearerSecurity;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgPool, Row};
use utoipa::OpenApi;
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_bus::Outbox;
use xf_http::{FieldError, Problem, ValidJson};

use crate::clocks;
use crate::policy::{self, STAGES};
use crate::sweeper::Sweeper;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        deadlines,
        pause,
        resume,
        put_policy,
        get_policy,
        list_policies,
        effective,
        list_presets,
        sweep_now,
        preview
    ),
    components(schemas(PauseBody, PolicyBody, Problem, xf_http::FieldError))
)]
pub struct Doc;

/// supervision's OpenAPI document: every route, its bodies and its errors.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Xinfang supervision",
        description = "Deadline policies and clocks, timers and the sweeper, supervision cards (督办卡), leader case ownership (领导包案), the cross-level monitor and accountability. Every case read applies the shared visibility rule: the accused unit, and anyone neither assigned to a case nor overseeing its place, gets 404."
    ),
    modifiers(&BearerSecurity)
)]
struct ApiDoc;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    use crate::oversight::{accountability, cards, ownership, registry};
    let mut doc = ApiDoc::openapi();
    for part in [
        Doc::openapi(),
        registry::Doc::openapi(),
        cards::Doc::openapi(),
        ownership::Doc::openapi(),
        accountability::Doc::openapi(),
        crate::notices::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    xf_app::openapi::serve(cfg, document());
    cfg.route("/v1/cases/{id}/deadlines", web::get().to(deadlines))
        .route("/v1/cases/{id}/clocks/{stage}/pause", web::post().to(pause))
        .route(
            "/v1/cases/{id}/clocks/{stage}/resume",
            web::post().to(resume),
        )
        .route("/v1/policies", web::get().to(list_policies))
        .route("/v1/policies/effective", web::get().to(effective))
        .route("/v1/policies/{id}", web::get().to(get_policy))
        .route("/v1/policies/{id}", web::put().to(put_policy))
        .route("/v1/policy-presets", web::get().to(list_presets))
        .route("/v1/deadlines/preview", web::get().to(preview))
        .route("/v1/admin/sweep", web::post().to(sweep_now));
    crate::oversight::configure(cfg);
    crate::notices::configure(cfg);
}

fn db(e: sqlx::Error) -> Problem {
    if xf_store::is_transient(&e) {
        Problem::unavailable(&e)
    } else {
        Problem::internal(&e)
    }
}

/// Every clock of a case: start, due, paused time, state, and the policy behind it.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/deadlines",
    tag = "clocks",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "{case_id, trace_id, first_started_at, age_secs, transfers, pauses: [{stage, reason, note, planned_days, paused_by, paused_at, resumed_by, resumed_at, excluded_secs}], clocks: [{stage, tier, jurisdiction_code, unit_id, started_at, due_at, stopped_at, state, period_days, counting, extended_days, paused_at, paused_secs, breached_at, provisional, policy, policy_version, warnings_sent}]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn deadlines(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let mut conn = pool.acquire().await.map_err(db)?;
    visible(&mut conn, &user, id).await?;
    let rows = sqlx::query(
        "SELECT stage, tier, jurisdiction_code, unit_id, started_at, due_at, stopped_at, state,
                period_days, counting, extended_days, paused_at, paused_secs, breached_at,
                provisional, policy, policy_version, trace_id,
                (SELECT count(*) FROM timers t WHERE t.clock_id = c.id AND t.kind = 'warning'
                   AND t.fired_at IS NOT NULL) AS warnings_sent
         FROM clocks c WHERE case_id = $1 ORDER BY started_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    if rows.is_empty() {
        return Err(Problem::not_found("case"));
    }
    let trace_id: Option<String> = rows[0].get("trace_id");
    let clocks: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "stage": r.get::<String, _>("stage"),
                "tier": r.get::<String, _>("tier"),
                "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
                "unit_id": r.get::<Option<String>, _>("unit_id"),
                "started_at": r.get::<DateTime<Utc>, _>("started_at"),
                "due_at": r.get::<DateTime<Utc>, _>("due_at"),
                "stopped_at": r.get::<Option<DateTime<Utc>>, _>("stopped_at"),
                "state": r.get::<String, _>("state"),
                "period_days": r.get::<i32, _>("period_days"),
                "counting": r.get::<String, _>("counting"),
                "extended_days": r.get::<i32, _>("extended_days"),
                "paused_at": r.get::<Option<DateTime<Utc>>, _>("paused_at"),
                "paused_secs": r.get::<i64, _>("paused_secs"),
                "breached_at": r.get::<Option<DateTime<Utc>>, _>("breached_at"),
                "provisional": r.get::<bool, _>("provisional"),
                "policy": r.get::<String, _>("policy"),
                "policy_version": r.get::<i32, _>("policy_version"),
                "warnings_sent": r.get::<i64, _>("warnings_sent"),
            })
        })
        .collect();
    let pauses: Vec<serde_json::Value> = sqlx::query(
        "SELECT stage, reason, note, planned_days, paused_by, paused_at, resumed_by, resumed_at,
                excluded_secs
         FROM clock_pauses WHERE case_id = $1 ORDER BY paused_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|r| {
        serde_json::json!({
            "stage": r.get::<String, _>("stage"),
            "reason": r.get::<String, _>("reason"),
            "note": r.get::<Option<String>, _>("note"),
            "planned_days": r.get::<i32, _>("planned_days"),
            "paused_by": r.get::<String, _>("paused_by"),
            "paused_at": r.get::<DateTime<Utc>, _>("paused_at"),
            "resumed_by": r.get::<Option<String>, _>("resumed_by"),
            "resumed_at": r.get::<Option<DateTime<Utc>>, _>("resumed_at"),
            "excluded_secs": r.get::<Option<i64>, _>("excluded_secs"),
        })
    })
    .collect();
    let transfers: i64 = sqlx::query_scalar("SELECT count(*) FROM transfers WHERE case_id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let first: DateTime<Utc> = rows[0].get("started_at");
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id,
        "trace_id": trace_id,
        // The case's age since its first clock started: transfers do not reset it.
        "first_started_at": first,
        "age_secs": (clock.now() - first).num_seconds().max(0),
        "transfers": transfers,
        "clocks": clocks,
        "pauses": pauses,
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    /// hearing (听证) | appraisal (鉴定) | awaiting_petitioner (等待信访人补充材料) |
    /// awaiting_authority (等待其他机关意见)
    reason: String,
    /// Free text, kept here with the pause (never on the bus), at most 500 characters.
    #[serde(default)]
    note: Option<String>,
    /// How long the pause is planned for: within what the policy still allows.
    days: Option<i64>,
}

/// Roles with the right to stop a clock: the supervising office.
const PAUSERS: [&str; 2] = [roles::SUPERVISOR, roles::ADMIN];

/// Pauses a live clock (a hearing, an appraisal, …): the time until resume is excluded,
/// up to the policy's maximum; a pause not resumed ends by itself after its planned
/// `days`. Supervisors over the case only; emits `ClockPaused`.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/clocks/{stage}/pause",
    tag = "clocks",
    params(("id" = Uuid, Path, description = "The case id"), ("stage" = String, Path, description = "acceptance, handling, review, …")),
    request_body = PauseBody,
    responses(
        (status = 200, description = "{case_id, stage, state: paused, paused_at, reason, days, max_pause_days, paused_secs_before}"),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn pause(
    user: Authenticated,
    path: web::Path<(Uuid, String)>,
    body: ValidJson<PauseBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let (id, stage) = path.into_inner();
    let b = body.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let c = live_for(&mut tx, &user, id, &stage).await?;
    let mut errs = Vec::new();
    let reason = policy::PAUSE_REASONS
        .iter()
        .find(|(n, _)| *n == b.reason)
        .map(|(_, r)| *r);
    if reason.is_none() {
        errs.push(FieldError::new(
            "reason",
            format!(
                "one of {}",
                policy::PAUSE_REASONS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if b.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        errs.push(FieldError::new("note", "at most 500 characters"));
    }
    let max_days = clocks::max_pause_days(&mut tx, &c, &stage)
        .await
        .map_err(db)?;
    let left_secs = (max_days * 86_400 - c.paused_secs).max(0);
    match b.days {
        None => errs.push(FieldError::new("days", "how many days the pause is planned for")),
        Some(d) if d < 1 => errs.push(FieldError::new("days", "at least 1")),
        Some(d) if d * 86_400 > left_secs => errs.push(FieldError::new(
            "days",
            format!(
                "past the maximum: the policy ({}) allows {max_days} days of pauses on this clock, {} left",
                c.policy,
                left_secs / 86_400
            ),
        )),
        Some(_) => {}
    }
    let (Some(reason), Some(days), true) = (reason, b.days, errs.is_empty()) else {
        return Err(Problem::validation(errs));
    };
    if c.state == "paused" {
        return Err(Problem::conflict(format!(
            "the {stage} clock is already paused"
        )));
    }
    sqlx::query("UPDATE clocks SET state = 'paused', paused_at = $2 WHERE id = $1")
        .bind(c.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::query("UPDATE timers SET cancelled = TRUE WHERE clock_id = $1 AND fired_at IS NULL")
        .bind(c.id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::query(
        "INSERT INTO clock_pauses (clock_id, case_id, stage, reason, note, planned_days, paused_by, paused_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.id)
    .bind(id)
    .bind(&stage)
    .bind(&b.reason)
    .bind(b.note.as_deref().map(str::trim).filter(|n| !n.is_empty()))
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .bind(&user.0.sub)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let env = xf_events::envelope(
        id,
        crate::SERVICE,
        xf_events::tier_of_code(&c.code),
        &c.code,
        now,
        xf_events::Payload::ClockPaused(xf_events::v1::ClockPaused {
            stage: policy::stage_code(&stage) as i32,
            reason: reason as i32,
            planned_days: u32::try_from(days).unwrap_or(u32::MAX),
            paused_secs_before: u64::try_from(c.paused_secs).unwrap_or(0),
        }),
    );
    outbox.put(&mut tx, &env).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id, "stage": stage, "state": "paused", "paused_at": now, "reason": b.reason,
        "days": days, "max_pause_days": max_days, "paused_secs_before": c.paused_secs,
    })))
}

/// Resumes a paused clock: its due moment moves by the time it was paused, at most
/// what the policy's maximum still allows. Emits `ClockResumed`.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/clocks/{stage}/resume",
    tag = "clocks",
    params(("id" = Uuid, Path, description = "The case id"), ("stage" = String, Path)),
    responses(
        (status = 200, description = "{case_id, stage, state: running, due_at, paused_secs, excluded_secs}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn resume(
    user: Authenticated,
    path: web::Path<(Uuid, String)>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let (id, stage) = path.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let c = live_for(&mut tx, &user, id, &stage).await?;
    if c.paused_at.is_none() || c.state != "paused" {
        return Err(Problem::conflict(format!(
            "the {stage} clock is not paused"
        )));
    }
    let max_days = clocks::max_pause_days(&mut tx, &c, &stage)
        .await
        .map_err(db)?;
    let left = max_days * 86_400 - c.paused_secs;
    let r = clocks::resume(&mut tx, &outbox, c, &user.0.sub, left, now)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let (due, paused, excluded) = (r.due_at, r.paused_secs, r.excluded_secs);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_id": id, "stage": stage, "state": "running", "due_at": due, "paused_secs": paused,
        "excluded_secs": excluded,
    })))
}

/// The caller's standing towards a case supervision knows (`xf-access`: the lead or
/// an assisting unit's handlers, overseers over its place), or 404 — also for the
/// accused unit and for a case supervision has not seen.
async fn visible(
    conn: &mut sqlx::PgConnection,
    user: &Authenticated,
    id: Uuid,
) -> Result<xf_access::Standing, Problem> {
    crate::oversight::registry::current(conn, id, false)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("case"))?
        .require(&user.0)
}

/// The live clock of a stage, for those with the right to stop it: a supervisor (or
/// administrator) over the case. The case's own units may not pause their clocks.
async fn live_for(
    tx: &mut sqlx::PgConnection,
    user: &Authenticated,
    id: Uuid,
    stage: &str,
) -> Result<clocks::Live, Problem> {
    if !STAGES.iter().any(|(n, _)| *n == stage) {
        return Err(Problem::validation(vec![FieldError::new(
            "stage",
            "unknown stage",
        )]));
    }
    // Who cannot see the case learns nothing (404) before any right is checked.
    match visible(tx, user, id).await? {
        xf_access::Standing::Overseer
            if user.0.has_role(roles::SUPERVISOR) || user.0.has_role(roles::ADMIN) => {}
        _ => {
            return Err(Problem::forbidden(format!(
                "pausing and resuming a clock needs the {} role over the case (the supervising office)",
                PAUSERS.join(" or ")
            )));
        }
    }
    clocks::live(tx, id, stage)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::conflict(format!("the case has no running {stage} clock")))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    name: String,
    #[serde(default)]
    jurisdiction_code: String,
    #[serde(default)]
    stages: Option<BTreeMap<String, serde_json::Value>>,
    /// Start from a shipped preset (`GET /v1/policy-presets`) instead of `stages`.
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    effective_from: Option<DateTime<Utc>>,
    #[serde(default)]
    effective_to: Option<DateTime<Utc>>,
}

/// Creates a policy, or its next version (which ends the previous one where it starts).
#[utoipa::path(
    put,
    path = "/v1/policies/{id}",
    tag = "policies",
    params(("id" = String, Path, description = "Policy id"), ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    request_body = PolicyBody,
    responses(
        (status = 200, description = "Version n+1 of the policy"), (status = 201, description = "The policy, first version"),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn put_policy(
    user: Authenticated,
    path: web::Path<String>,
    reason: xf_app::audit::Reason,
    body: ValidJson<PolicyBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let b = body.into_inner();
    let now = clock.now();
    let mut errs = Vec::new();
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        errs.push(FieldError::new(
            "id",
            "1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    if b.name.trim().is_empty() || b.name.chars().count() > 100 {
        errs.push(FieldError::new("name", "1 to 100 characters"));
    }
    if !b.jurisdiction_code.is_empty()
        && let Err(e) = xf_jurisdiction::Code::parse(&b.jurisdiction_code)
    {
        errs.push(FieldError::new("jurisdiction_code", e.to_string()));
    }
    let stages = match (&b.stages, &b.preset) {
        (Some(s), None) => s.clone(),
        (None, Some(p)) => match policy::presets().into_iter().find(|x| x.id == p) {
            Some(x) => serde_json::from_value(x.stages).unwrap_or_default(),
            None => {
                errs.push(FieldError::new("preset", format!("unknown preset {p}")));
                BTreeMap::new()
            }
        },
        _ => {
            errs.push(FieldError::new(
                "stages",
                "give stages or a preset, not both",
            ));
            BTreeMap::new()
        }
    };
    let (specs, stage_errs) = if stages.is_empty() && !errs.is_empty() {
        (BTreeMap::new(), Vec::new())
    } else {
        policy::check_stages(&stages)
    };
    errs.extend(stage_errs);
    let from = b.effective_from.unwrap_or(now);
    if let Some(to) = b.effective_to
        && to <= from
    {
        errs.push(FieldError::new(
            "effective_to",
            "must be after effective_from",
        ));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    user.0.require_any_role(&[roles::ADMIN])?;
    if b.jurisdiction_code.is_empty() || !user.0.covers(&b.jurisdiction_code) {
        return Err(Problem::forbidden(
            "a policy covers a jurisdiction within yours (the statutory set covers the rest)",
        ));
    }
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("LOCK TABLE policies IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let latest: Option<(i32, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT version, jurisdiction_code, effective_from FROM policies WHERE id = $1
         ORDER BY version DESC LIMIT 1",
    )
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    if let Some((v, code, start)) = &latest {
        if *code != b.jurisdiction_code {
            return Err(Problem::validation(vec![FieldError::new(
                "jurisdiction_code",
                format!("policy {id} covers {code}; create another policy for another place"),
            )]));
        }
        if from <= *start {
            return Err(Problem::validation(vec![FieldError::new(
                "effective_from",
                format!("must be after the start of version {v} ({start})"),
            )]));
        }
    }
    // Another policy for the same place in an overlapping period would make the
    // applicable rule ambiguous.
    let clash: Option<(String, i32)> = sqlx::query_as(
        "SELECT id, version FROM policies
         WHERE jurisdiction_code = $1 AND id <> $2
           AND effective_from < COALESCE($4, 'infinity'::timestamptz)
           AND COALESCE(effective_to, 'infinity'::timestamptz) > $3
         LIMIT 1",
    )
    .bind(&b.jurisdiction_code)
    .bind(&id)
    .bind(from)
    .bind(b.effective_to)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    if let Some((other, v)) = clash {
        return Err(Problem::conflict(format!(
            "policy {other} version {v} already covers {} in an overlapping period",
            b.jurisdiction_code
        ))
        .field(
            "effective_from",
            "overlaps another policy of the same place",
        ));
    }
    let before = match &latest {
        Some((v, ..)) => sqlx::query(
            "SELECT id, version, name, jurisdiction_code, stages, preset, effective_from, effective_to
             FROM policies WHERE id = $1 AND version = $2",
        )
        .bind(&id)
        .bind(v)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .map(|r| policy_json(&r)),
        None => None,
    };
    let version = latest.as_ref().map_or(1, |l| l.0 + 1);
    if latest.is_some() {
        sqlx::query(
            "UPDATE policies SET effective_to = $2 WHERE id = $1 AND version = $3
               AND (effective_to IS NULL OR effective_to > $2)",
        )
        .bind(&id)
        .bind(from)
        .bind(version - 1)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    let stages_json = serde_json::to_value(&specs).map_err(|e| Problem::internal(&e))?;
    sqlx::query(
        "INSERT INTO policies (id, version, name, jurisdiction_code, stages, preset,
             effective_from, effective_to, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(version)
    .bind(b.name.trim())
    .bind(&b.jurisdiction_code)
    .bind(&stages_json)
    .bind(&b.preset)
    .bind(from)
    .bind(b.effective_to)
    .bind(now)
    .bind(&user.0.sub)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let body = serde_json::json!({
        "id": id, "version": version, "name": b.name.trim(), "jurisdiction_code": b.jurisdiction_code,
        "stages": stages_json, "preset": b.preset, "effective_from": from, "effective_to": b.effective_to,
    });
    let change = xf_app::audit::Change {
        kind: "policy",
        key: &id,
        jurisdiction_code: &b.jurisdiction_code,
        action: xf_app::audit::Action::upsert(&before),
        before,
        after: Some(body.clone()),
    };
    xf_app::audit::record(&mut tx, &user.0, &reason, now, &change)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(if version == 1 {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

fn policy_json(r: &sqlx::postgres::PgRow) -> serde_json::Value {
    serde_json::json!({
        "id": r.get::<String, _>("id"),
        "version": r.get::<i32, _>("version"),
        "name": r.get::<String, _>("name"),
        "jurisdiction_code": r.get::<String, _>("jurisdiction_code"),
        "stages": r.get::<serde_json::Value, _>("stages"),
        "preset": r.get::<Option<String>, _>("preset"),
        "effective_from": r.get::<DateTime<Utc>, _>("effective_from"),
        "effective_to": r.get::<Option<DateTime<Utc>>, _>("effective_to"),
    })
}

const POLICY_COLUMNS: &str =
    "id, version, name, jurisdiction_code, stages, preset, effective_from, effective_to";

#[utoipa::path(
    get,
    path = "/v1/policies/{id}",
    tag = "policies",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "{id, versions: [...]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn get_policy(
    _user: Authenticated,
    path: web::Path<String>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {POLICY_COLUMNS} FROM policies WHERE id = $1 ORDER BY version"
    )))
    .bind(&id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(db)?;
    if rows.is_empty() {
        return Err(Problem::not_found("policy"));
    }
    let versions: Vec<_> = rows.iter().map(policy_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": id, "versions": versions })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PolicyQuery {
    jurisdiction: Option<String>,
    at: Option<DateTime<Utc>>,
}

/// Policies in force at `at` (default now) that cover `jurisdiction` (or all).
#[utoipa::path(
    get,
    path = "/v1/policies",
    tag = "policies",
    params(PolicyQuery),
    responses(
        (status = 200, description = "{at, policies: [...]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn list_policies(
    _user: Authenticated,
    q: web::Query<PolicyQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let at = q.at.unwrap_or_else(|| clock.now());
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {POLICY_COLUMNS} FROM policies
         WHERE effective_from <= $1 AND (effective_to IS NULL OR effective_to > $1)
           AND ($2::text IS NULL OR $2 LIKE jurisdiction_code || '%' OR jurisdiction_code LIKE $2 || '%')
         ORDER BY length(jurisdiction_code), jurisdiction_code, id"
    )))
    .bind(at)
    .bind(&q.jurisdiction)
    .fetch_all(pool.get_ref())
    .await
    .map_err(db)?;
    let list: Vec<_> = rows.iter().map(policy_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "at": at, "policies": list })))
}

/// Per stage, the rule that applies at a jurisdiction and which policy it comes from.
#[utoipa::path(
    get,
    path = "/v1/policies/effective",
    tag = "policies",
    params(PolicyQuery),
    responses(
        (status = 200, description = "{jurisdiction_code, at, stages: {stage: {rule, policy, version}}}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn effective(
    _user: Authenticated,
    q: web::Query<PolicyQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let code = q.jurisdiction.clone().unwrap_or_default();
    if let Err(e) = xf_jurisdiction::Code::parse(&code) {
        return Err(Problem::validation(vec![FieldError::new(
            "jurisdiction",
            e.to_string(),
        )]));
    }
    let at = q.at.unwrap_or_else(|| clock.now());
    let mut conn = pool.acquire().await.map_err(db)?;
    let mut stages = serde_json::Map::new();
    for (name, _) in STAGES {
        if let Some(r) = policy::resolve(&mut conn, &code, at, name)
            .await
            .map_err(db)?
        {
            stages.insert(
                name.to_owned(),
                serde_json::json!({"rule": r.spec, "policy": r.policy_id, "version": r.version}),
            );
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "jurisdiction_code": code, "at": at, "stages": stages,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
    /// The division the matter belongs to (6, 9 or 12 digits).
    jurisdiction: Option<String>,
    /// acceptance, handling, review_window, review, …
    stage: Option<String>,
    /// RFC 3339; the period counts from the day after.
    start: Option<String>,
}

/// When a stage started at `start` in `jurisdiction` would be due, by the policy in
/// force then. Public: it reveals only policy.
#[utoipa::path(
    get,
    path = "/v1/deadlines/preview",
    tag = "policies",
    params(PreviewQuery),
    responses(
        (status = 200, description = "{due_at, policy_id, policy_version, days, counting, provisional, stage, jurisdiction_code, start}"),
        (status = 404, description = "No policy times this stage there", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    )
)]
async fn preview(
    q: web::Query<PreviewQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let mut errs = Vec::new();
    let code = q.jurisdiction.unwrap_or_default();
    if let Err(e) = xf_jurisdiction::Code::parse(&code) {
        errs.push(FieldError::new("jurisdiction", e.to_string()));
    }
    let stage = q.stage.unwrap_or_default();
    if !STAGES.iter().any(|(n, _)| *n == stage) || stage == "superior_report" {
        errs.push(FieldError::new(
            "stage",
            format!(
                "one of {}",
                STAGES
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| *n != "superior_report")
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let start = match q.start.as_deref().map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        _ => {
            errs.push(FieldError::new(
                "start",
                "an RFC 3339 moment, e.g. 2026-03-02T09:00:00+08:00",
            ));
            None
        }
    };
    let (Some(start), true) = (start, errs.is_empty()) else {
        return Err(Problem::validation(errs));
    };
    let mut conn = pool.acquire().await.map_err(db)?;
    let Some(r) = policy::resolve(&mut conn, &code, start, &stage)
        .await
        .map_err(db)?
    else {
        return Err(Problem::not_found("policy for this stage"));
    };
    let (due_at, provisional) = clocks::due_of(start, r.spec.days, r.spec.counting, 0);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "due_at": due_at,
        "policy_id": r.policy_id,
        "policy_version": r.version,
        "days": r.spec.days,
        "counting": r.spec.counting,
        "provisional": provisional,
        "stage": stage,
        "jurisdiction_code": code,
        "start": start,
    })))
}

#[utoipa::path(
    get,
    path = "/v1/policy-presets",
    tag = "policies",
    responses(
        (status = 200, description = "{presets: [...]}: the shipped local rule sets"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn list_presets(_user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "presets": policy::presets() }))
}

/// Fires due timers now (the sweeper also runs on its own interval).
#[utoipa::path(
    post,
    path = "/v1/admin/sweep",
    tag = "clocks",
    responses(
        (status = 200, description = "What fired: warnings, breaches, escalations, overdue cards"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn sweep_now(
    user: Authenticated,
    sweeper: web::Data<Sweeper>,
) -> Result<HttpResponse, Problem> {
    user.0
        .require_any_role(&[roles::ADMIN, roles::SUPERVISOR])?;
    let fired = sweeper.sweep().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(fired))
}
