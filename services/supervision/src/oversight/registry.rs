//! The case registry, the chain of tier moves and the cross-level monitor (R19): the
//! cases that moved up a tier (overdue, review requested, skip-level filing, card
//! overdue), where they passed through and how long they stayed at each tier.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::{Authenticated, Claims};
use xf_bus::HandleError;
use xf_events::Event;
use xf_events::v1::{CaseDispatched, CaseEscalated, CaseRegistered, EscalationReason, Stage};
use xf_http::{FieldError, Problem};

use super::{OVERSEERS, REASONS, db, parse_time, reason_name, scope_filter, tier_of};

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(moves, monitor),
    components(schemas(CaseMoves, Current, Step, TierTime, Notice))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/monitor", web::get().to(monitor))
        .route("/v1/cases/{id}/moves", web::get().to(moves));
}

/// Where a case is now, as the registry knows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Current {
    pub tier: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub dispatched: bool,
    pub moved_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Where the matter arose (from CaseRegistered; None when only dispatches were seen).
    #[serde(skip)]
    pub matter_code: Option<String>,
    /// The accused unit: never sees the case.
    #[serde(skip)]
    pub excluded_unit_id: Option<String>,
    #[serde(skip)]
    pub confidential: bool,
    #[serde(skip)]
    pub assisting_unit_ids: Vec<String>,
}

impl Current {
    /// The case as the shared visibility rule sees it.
    pub fn access(&self) -> xf_access::Case<'_> {
        xf_access::Case {
            matter_code: self
                .matter_code
                .as_deref()
                .unwrap_or(self.jurisdiction_code.as_str()),
            jurisdiction_code: &self.jurisdiction_code,
            lead_unit: self.unit_id.as_deref(),
            assisting_units: &self.assisting_unit_ids,
            excluded_unit: self.excluded_unit_id.as_deref(),
            confidential: self.confidential,
        }
    }

    /// The caller's standing (`xf-access`), or 404.
    pub fn require(&self, user: &Claims) -> Result<xf_access::Standing, Problem> {
        xf_access::require(user, &self.access())
    }
}

/// The registry columns [`Current`] reads.
pub(crate) const CURRENT_COLUMNS: &str = "tier, jurisdiction_code, unit_id, dispatched,
    moved_at, closed_at, matter_code, excluded_unit_id, confidential, assisting_unit_ids";

/// A row keyed by its case.
#[derive(sqlx::FromRow)]
struct Keyed<T> {
    case_id: Uuid,
    #[sqlx(flatten)]
    row: T,
}

/// Reads a case's registry row (`lock` takes its row lock for the transaction).
pub async fn current(
    conn: &mut PgConnection,
    case_id: Uuid,
    lock: bool,
) -> Result<Option<Current>, sqlx::Error> {
    let sql = format!(
        "SELECT {CURRENT_COLUMNS} FROM oversight_cases WHERE case_id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as::<_, Current>(sqlx::AssertSqlSafe(sql))
        .bind(case_id)
        .fetch_optional(conn)
        .await
}

/// A registered case enters the registry where the matter arose (a dispatch moves it).
pub(super) async fn registered(
    tx: &mut PgConnection,
    ev: &Event,
    r: &CaseRegistered,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    let code = if r.matter_jurisdiction_code.is_empty() {
        r.office_jurisdiction_code.as_str()
    } else {
        r.matter_jurisdiction_code.as_str()
    };
    if code.is_empty() {
        return Ok(());
    }
    let excluded = (!r.excluded_unit_id.is_empty()).then_some(r.excluded_unit_id.as_str());
    sqlx::query(
        "INSERT INTO oversight_cases (case_id, tier, jurisdiction_code, unit_id, dispatched,
             first_seen_at, moved_at, closed_at, matter_code, excluded_unit_id, confidential,
             anonymous)
         VALUES ($1, $2, $3, NULL, FALSE, $4, $5, $6, $3, $7, $8, $9)
         ON CONFLICT (case_id) DO UPDATE SET matter_code = EXCLUDED.matter_code,
             excluded_unit_id = EXCLUDED.excluded_unit_id, confidential = EXCLUDED.confidential,
             anonymous = EXCLUDED.anonymous",
    )
    .bind(ev.case_id)
    .bind(xf_events::tier_name(tier_of(code)))
    .bind(code)
    .bind(now)
    .bind(ev.occurred_at)
    .bind(r.answered_on_spot.then_some(ev.occurred_at))
    .bind(excluded)
    .bind(r.confidential || excluded.is_some())
    .bind(r.anonymous)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A dispatch: one more link in the case's chain, and its new place in the registry.
pub(super) async fn dispatched(
    tx: &mut PgConnection,
    ev: &Event,
    d: &CaseDispatched,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    let code = if d.jurisdiction_code.is_empty() {
        ev.envelope.jurisdiction_code.as_str()
    } else {
        d.jurisdiction_code.as_str()
    };
    let tier = match xf_events::Tier::try_from(d.tier) {
        Ok(t) if t != xf_events::Tier::Unspecified => t,
        _ => tier_of(code),
    };
    let reason = EscalationReason::try_from(d.reason).unwrap_or(EscalationReason::Unspecified);
    let reason = reason_name(reason).or(d
        .skip_level
        .then_some(crate::domain::escalation::MoveReason::SkipLevel.as_str()));
    let fresh = sqlx::query(
        "INSERT INTO tier_moves (event_id, case_id, at, tier, jurisdiction_code, unit_id,
             unit_name, reason, skip_level, review_level)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(ev.event_id)
    .bind(ev.case_id)
    .bind(ev.occurred_at)
    .bind(xf_events::tier_name(tier))
    .bind(code)
    .bind(&d.unit_id)
    .bind(&d.unit_name)
    .bind(reason)
    .bind(d.skip_level)
    .bind(i16::try_from(d.review_level).unwrap_or(i16::MAX))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(());
    }
    // One case's events arrive in order (keyed by case), so the latest dispatch wins.
    sqlx::query(
        "INSERT INTO oversight_cases (case_id, tier, jurisdiction_code, unit_id, dispatched,
             first_seen_at, moved_at, closed_at)
         VALUES ($1, $2, $3, $4, TRUE, $5, $6, NULL)
         ON CONFLICT (case_id) DO UPDATE SET tier = EXCLUDED.tier,
             jurisdiction_code = EXCLUDED.jurisdiction_code, unit_id = EXCLUDED.unit_id,
             dispatched = TRUE, moved_at = EXCLUDED.moved_at, closed_at = NULL,
             assisting_unit_ids = $7",
    )
    .bind(ev.case_id)
    .bind(xf_events::tier_name(tier))
    .bind(code)
    .bind(&d.unit_id)
    .bind(now)
    .bind(ev.occurred_at)
    .bind(&d.assisting_unit_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Lower-case stage name of a stage code ("" when unspecified).
pub(crate) fn stage_name(stage: i32) -> String {
    match Stage::try_from(stage) {
        Ok(Stage::Unspecified) | Err(_) => String::new(),
        Ok(s) => s
            .as_str_name()
            .trim_start_matches("STAGE_")
            .to_ascii_lowercase(),
    }
}

fn tier_label(t: i32) -> &'static str {
    xf_events::tier_name(xf_events::Tier::try_from(t).unwrap_or(xf_events::Tier::Unspecified))
}

/// An escalation notice, kept as published.
pub(super) async fn escalated(
    tx: &mut PgConnection,
    ev: &Event,
    e: &CaseEscalated,
) -> Result<(), HandleError> {
    let reason = EscalationReason::try_from(e.reason).unwrap_or(EscalationReason::Unspecified);
    sqlx::query(
        "INSERT INTO escalation_notices (event_id, case_id, at, producer, reason, stage,
             from_tier, from_jurisdiction_code, from_unit_id, to_tier, to_jurisdiction_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(ev.event_id)
    .bind(ev.case_id)
    .bind(ev.occurred_at)
    .bind(&ev.envelope.producer)
    .bind(reason_name(reason).unwrap_or(crate::domain::escalation::MoveReason::UNSPECIFIED))
    .bind(stage_name(e.stage))
    .bind(tier_label(e.from_tier))
    .bind(&e.from_jurisdiction_code)
    .bind(&e.from_unit_id)
    .bind(tier_label(e.to_tier))
    .bind(&e.to_jurisdiction_code)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The case closed: its time at the current tier ends here.
pub(super) async fn closed(tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
    sqlx::query("UPDATE oversight_cases SET closed_at = $2 WHERE case_id = $1")
        .bind(ev.case_id)
        .bind(ev.occurred_at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// One link of a case's chain.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Step {
    pub tier: String,
    pub jurisdiction_code: String,
    pub unit_id: String,
    pub unit_name: String,
    /// Why the case came to this step (None for a first or same-tier dispatch).
    pub reason: Option<String>,
    pub skip_level: bool,
    pub review_level: i16,
    #[sqlx(rename = "at")]
    pub entered_at: DateTime<Utc>,
    /// The next dispatch, or the closing when closed here; None while still here.
    #[sqlx(default)]
    pub left_at: Option<DateTime<Utc>>,
    /// Time spent at this step: to the next dispatch, the closing, or now.
    #[sqlx(default)]
    pub seconds: i64,
}

/// Time spent at one tier, summed over its steps.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TierTime {
    pub tier: String,
    pub jurisdiction_codes: Vec<String>,
    pub seconds: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Notice {
    pub at: DateTime<Utc>,
    pub producer: String,
    pub reason: String,
    pub stage: String,
    pub from_tier: String,
    pub from_jurisdiction_code: String,
    pub from_unit_id: String,
    pub to_tier: String,
    pub to_jurisdiction_code: String,
}

/// A case's whole path.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseMoves {
    pub case_id: Uuid,
    pub current: Option<Current>,
    /// For a skip-level filing: the office above the competent tier it was filed at.
    pub filed_above: Option<String>,
    /// Every reason the case moved up, in order, without repeats.
    pub reasons: Vec<String>,
    pub chain: Vec<Step>,
    pub time_per_tier: Vec<TierTime>,
    pub escalations: Vec<Notice>,
}

/// Builds the chains of `ids` (in that order) with times up to `now`.
async fn chains(
    conn: &mut PgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<CaseMoves>, sqlx::Error> {
    let mut steps: HashMap<Uuid, Vec<Step>> = HashMap::new();
    for m in sqlx::query_as::<_, Keyed<Step>>(
        "SELECT case_id, at, tier, jurisdiction_code, unit_id, unit_name, reason, skip_level,
                review_level
         FROM tier_moves WHERE case_id = ANY($1) ORDER BY case_id, at, id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?
    {
        steps.entry(m.case_id).or_default().push(m.row);
    }
    let mut notices: HashMap<Uuid, Vec<Notice>> = HashMap::new();
    for n in sqlx::query_as::<_, Keyed<Notice>>(
        "SELECT case_id, at, producer, reason, stage, from_tier, from_jurisdiction_code,
                from_unit_id, to_tier, to_jurisdiction_code
         FROM escalation_notices WHERE case_id = ANY($1) ORDER BY case_id, at, id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?
    {
        notices.entry(n.case_id).or_default().push(n.row);
    }
    let mut currents: HashMap<Uuid, Current> = HashMap::new();
    for c in sqlx::query_as::<_, Keyed<Current>>(sqlx::AssertSqlSafe(format!(
        "SELECT case_id, {CURRENT_COLUMNS} FROM oversight_cases WHERE case_id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?
    {
        currents.insert(c.case_id, c.row);
    }
    Ok(ids
        .iter()
        .map(|id| {
            build(
                *id,
                steps.remove(id).unwrap_or_default(),
                notices.remove(id).unwrap_or_default(),
                currents.remove(id),
                now,
            )
        })
        .collect())
}

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_seconds().max(0)
}

/// Times each step (to the next dispatch, the closing, or now) and sums them per tier.
fn build(
    case_id: Uuid,
    mut chain: Vec<Step>,
    escalations: Vec<Notice>,
    current: Option<Current>,
    now: DateTime<Utc>,
) -> CaseMoves {
    let closed = current.as_ref().and_then(|c| c.closed_at);
    let n = chain.len();
    for i in 0..n {
        let start = chain[i].entered_at;
        let end = if i + 1 < n {
            Some(chain[i + 1].entered_at)
        } else {
            closed.filter(|c| *c >= start)
        };
        chain[i].left_at = end;
        chain[i].seconds = secs(start, end.unwrap_or(now));
    }
    let mut time_per_tier: Vec<TierTime> = Vec::new();
    for s in &chain {
        match time_per_tier.iter_mut().find(|t| t.tier == s.tier) {
            Some(t) => {
                t.seconds += s.seconds;
                if !t.jurisdiction_codes.contains(&s.jurisdiction_code) {
                    t.jurisdiction_codes.push(s.jurisdiction_code.clone());
                }
            }
            None => time_per_tier.push(TierTime {
                tier: s.tier.clone(),
                jurisdiction_codes: vec![s.jurisdiction_code.clone()],
                seconds: s.seconds,
            }),
        }
    }
    let mut reasons: Vec<String> = Vec::new();
    for r in chain.iter().filter_map(|s| s.reason.as_ref()) {
        if !reasons.contains(r) {
            reasons.push(r.clone());
        }
    }
    let filed_above = escalations
        .iter()
        .find(|e| e.reason == "skip_level" && !e.to_jurisdiction_code.is_empty())
        .map(|e| e.to_jurisdiction_code.clone());
    CaseMoves {
        case_id,
        current,
        filed_above,
        reasons,
        chain,
        time_per_tier,
        escalations,
    }
}

/// True when `user` oversees any place the case passed through, and is not the
/// accused unit's.
fn oversees(user: &Claims, m: &CaseMoves) -> bool {
    let excluded = m
        .current
        .as_ref()
        .and_then(|c| c.excluded_unit_id.as_deref());
    if xf_access::is_excluded(user, excluded) {
        return false;
    }
    m.current
        .as_ref()
        .is_some_and(|c| xf_access::require(user, &c.access()).is_ok())
        || m.chain.iter().any(|s| user.covers(&s.jurisdiction_code))
}

/// One case's chain of tiers, jurisdictions and units with the time at each.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/moves",
    tag = "monitor",
    params(("id" = Uuid, Path, description = "The case id")),
    responses(
        (status = 200, description = "The case's chain of tiers and units, the time at each, its escalations", body = CaseMoves),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn moves(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&OVERSEERS)?;
    let id = path.into_inner();
    let mut conn = pool.acquire().await.map_err(db)?;
    let m = chains(&mut conn, &[id], clock.now())
        .await
        .map_err(db)?
        .pop()
        .ok_or_else(|| Problem::not_found("case"))?;
    if m.current.is_none() && m.chain.is_empty() {
        return Err(Problem::not_found("case"));
    }
    if !oversees(&user.0, &m) {
        // Outside the caller's jurisdiction, or the accused unit: no such case.
        return Err(Problem::not_found("case"));
    }
    Ok(HttpResponse::Ok().json(m))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MonitorQuery {
    jurisdiction: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
}

/// One move up a tier inside the period.
#[derive(Debug, Clone, Serialize)]
struct PeriodMove {
    at: DateTime<Utc>,
    reason: String,
    from_tier: Option<String>,
    from_jurisdiction_code: Option<String>,
    from_unit_id: Option<String>,
    to_tier: String,
    to_jurisdiction_code: String,
    to_unit_id: String,
}

#[derive(Debug, Clone, Serialize)]
struct Totals {
    cases: i64,
    moves: i64,
}

/// The cases under a jurisdiction that moved up a tier in a period, with why, the
/// chain they passed through and the time at each tier, and totals per reason.
#[utoipa::path(
    get,
    path = "/v1/monitor",
    tag = "monitor",
    params(MonitorQuery),
    responses(
        (status = 200, description = "{jurisdiction, from, to, total_cases, totals, cases: [...], truncated}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn monitor(
    user: Authenticated,
    q: web::Query<MonitorQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let u = &user.0;
    u.require_any_role(&OVERSEERS)?;
    let q = q.into_inner();
    let mut errs: Vec<FieldError> = Vec::new();
    let scope = scope_filter(u, q.jurisdiction.as_deref(), &mut errs)?;
    let now = clock.now();
    let to = parse_time("to", q.to.as_deref(), &mut errs);
    let from = parse_time("from", q.from.as_deref(), &mut errs);
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        errs.push(FieldError::new("limit", "from 1 to 1000"));
    }
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - Duration::days(30));
    if errs.is_empty() && from >= to {
        errs.push(FieldError::new("from", "must be before to"));
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    let like = format!("{scope}%");
    let mut conn = pool.acquire().await.map_err(db)?;
    // The accused unit's token never sees its case ($4: the token's unit).
    const MATCH: &str = "m.reason IS NOT NULL AND m.at >= $2 AND m.at < $3
        AND EXISTS (SELECT 1 FROM tier_moves x
                    WHERE x.case_id = m.case_id AND x.jurisdiction_code LIKE $1)
        AND ($4::text IS NULL OR NOT EXISTS (SELECT 1 FROM oversight_cases oc
                    WHERE oc.case_id = m.case_id AND oc.excluded_unit_id = $4))";
    let unit = u.unit.as_deref().filter(|x| !x.is_empty());
    let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT m.case_id FROM tier_moves m WHERE {MATCH}
         GROUP BY m.case_id ORDER BY max(m.at) DESC, m.case_id LIMIT $5"
    )))
    .bind(&like)
    .bind(from)
    .bind(to)
    .bind(unit)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let truncated = ids.len() > limit as usize;
    let ids = &ids[..ids.len().min(limit as usize)];
    let mut totals: serde_json::Map<String, serde_json::Value> = REASONS
        .iter()
        .map(|r| {
            (
                (*r).to_owned(),
                serde_json::json!(Totals { cases: 0, moves: 0 }),
            )
        })
        .collect();
    let mut all_cases = 0i64;
    for r in sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT m.reason, count(DISTINCT m.case_id) AS cases, count(*) AS moves
         FROM tier_moves m WHERE {MATCH} GROUP BY ROLLUP (m.reason)"
    )))
    .bind(&like)
    .bind(from)
    .bind(to)
    .bind(unit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    {
        let t = Totals {
            cases: r.get("cases"),
            moves: r.get("moves"),
        };
        match r.get::<Option<String>, _>("reason") {
            Some(reason) => {
                totals.insert(reason, serde_json::json!(t));
            }
            None => all_cases = t.cases,
        }
    }
    let cases: Vec<serde_json::Value> = chains(&mut conn, ids, now)
        .await
        .map_err(db)?
        .into_iter()
        .map(|m| {
            let mut period: Vec<PeriodMove> = Vec::new();
            for (i, s) in m.chain.iter().enumerate() {
                let Some(reason) = &s.reason else { continue };
                if s.entered_at < from || s.entered_at >= to {
                    continue;
                }
                let prev = i.checked_sub(1).and_then(|p| m.chain.get(p));
                period.push(PeriodMove {
                    at: s.entered_at,
                    reason: reason.clone(),
                    from_tier: prev.map(|p| p.tier.clone()),
                    from_jurisdiction_code: prev.map(|p| p.jurisdiction_code.clone()),
                    from_unit_id: prev.map(|p| p.unit_id.clone()),
                    to_tier: s.tier.clone(),
                    to_jurisdiction_code: s.jurisdiction_code.clone(),
                    to_unit_id: s.unit_id.clone(),
                });
            }
            let mut reasons: Vec<String> = Vec::new();
            for p in &period {
                if !reasons.contains(&p.reason) {
                    reasons.push(p.reason.clone());
                }
            }
            serde_json::json!({
                "case_id": m.case_id,
                "reasons": reasons,
                "moves": period,
                "current": m.current,
                "filed_above": m.filed_above,
                "chain": m.chain,
                "time_per_tier": m.time_per_tier,
                "escalations": m.escalations,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "jurisdiction": scope,
        "from": from,
        "to": to,
        "total_cases": all_cases,
        "totals": totals,
        "cases": cases,
        "truncated": truncated,
    })))
}
