//! Reference data: units, responsibility rules and the jurisdiction tree. Every change
//! is versioned and bumps the catalog version so that all replicas reload.

use std::sync::Arc;
use xf_app::audit::{self, Reason};

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgPool, Row};
use xf_app::Clock;
use xf_auth::{Authenticated, roles};
use xf_http::{FieldError, Problem, ValidJson};
use xf_jurisdiction::{Code, ImportError, Tree, pg};

use crate::catalog::{self, CompetentTier, FLAGS, Rule, Shared, UnitKind};
use crate::places::Places;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        put_unit,
        list_units,
        get_unit,
        put_rule,
        retire_rule,
        list_rules,
        get_rule,
        get_division,
        import_divisions
    ),
    components(schemas(UnitInput, RuleInput, Problem, xf_http::FieldError))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/units", web::get().to(list_units))
        .route("/v1/units/{id}", web::get().to(get_unit))
        .route("/v1/units/{id}", web::put().to(put_unit))
        .route("/v1/rules", web::get().to(list_rules))
        .route("/v1/rules/{id}", web::get().to(get_rule))
        .route("/v1/rules/{id}", web::put().to(put_rule))
        .route("/v1/rules/{id}", web::delete().to(retire_rule))
        .route("/v1/divisions/{code}", web::get().to(get_division))
        .service(
            web::resource("/v1/admin/divisions")
                .app_data(web::PayloadConfig::new(IMPORT_LIMIT))
                .route(web::post().to(import_divisions)),
        );
}

/// Largest CSV body the import endpoint takes (a province's villages fit; the
/// national file goes through `xf-routing import-divisions`).
const IMPORT_LIMIT: usize = 64 * 1024 * 1024;

fn db(e: sqlx::Error) -> Problem {
    if xf_store::is_transient(&e) {
        Problem::unavailable(&e)
    } else {
        Problem::internal(&e)
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn admin_for(user: &Authenticated, code: &str) -> Result<(), Problem> {
    user.0.require_any_role(&[roles::ADMIN])?;
    if !user.0.covers(code) {
        return Err(Problem::forbidden(format!(
            "{code} lies outside your jurisdiction {}",
            user.0.jurisdiction
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitInput {
    pub name: String,
    pub kind: String,
    pub jurisdiction_code: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub leader_in_charge: Option<String>,
    #[serde(default)]
    pub top_leader: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[utoipa::path(
    put,
    path = "/v1/units/{id}",
    tag = "units",
    params(("id" = String, Path, description = "Unit id: 1 to 64 letters, digits, -, _, ., :"), ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    request_body = UnitInput,
    responses(
        (status = 200, description = "A new version of the unit"), (status = 201, description = "The unit, first version"),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(clippy::too_many_arguments)]
async fn put_unit(
    user: Authenticated,
    path: web::Path<String>,
    reason: Reason,
    body: ValidJson<UnitInput>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    places: web::Data<Arc<Places>>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let u = body.into_inner();
    let mut errs = Vec::new();
    if !valid_id(&id) {
        errs.push(FieldError::new(
            "id",
            "1 to 64 letters, digits, '-', '_', '.' or ':'",
        ));
    }
    xf_http::require_text(&mut errs, "name", &u.name, 100);
    let kind = UnitKind::parse(&u.kind);
    if kind.is_none() {
        errs.push(FieldError::new(
            "kind",
            "one of department, township_office, village_committee, discipline, xfb",
        ));
    }
    match Code::parse(&u.jurisdiction_code) {
        Err(e) => errs.push(FieldError::new("jurisdiction_code", e.to_string())),
        Ok(c) => {
            let tree = places.with(&pool, &c).await.map_err(db)?;
            if !tree.contains(&c) {
                errs.push(FieldError::new(
                    "jurisdiction_code",
                    format!("{c} is not in the jurisdiction tree"),
                ));
            }
        }
    }
    for (i, c) in u.categories.iter().enumerate() {
        xf_http::require_text(&mut errs, &format!("categories[{i}]"), c, 40);
    }
    for (f, v) in [
        ("leader_in_charge", &u.leader_in_charge),
        ("top_leader", &u.top_leader),
    ] {
        if let Some(v) = v {
            xf_http::require_text(&mut errs, f, v, 100);
        }
    }
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    admin_for(&user, &u.jurisdiction_code)?;
    let kind = kind.map(UnitKind::as_str).unwrap_or_default();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let prev: Option<(i32, String)> =
        sqlx::query_as("SELECT version, jurisdiction_code FROM units WHERE id = $1 FOR UPDATE")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
    if let Some((_, code)) = &prev {
        admin_for(&user, code)?;
    }
    let version = prev.as_ref().map_or(1, |p| p.0 + 1);
    sqlx::query(
        "INSERT INTO units (id, version, name, kind, jurisdiction_code, categories,
             leader_in_charge, top_leader, active, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name,
             kind = EXCLUDED.kind, jurisdiction_code = EXCLUDED.jurisdiction_code,
             categories = EXCLUDED.categories, leader_in_charge = EXCLUDED.leader_in_charge,
             top_leader = EXCLUDED.top_leader, active = EXCLUDED.active,
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
    )
    .bind(&id)
    .bind(version)
    .bind(u.name.trim())
    .bind(kind)
    .bind(&u.jurisdiction_code)
    .bind(&u.categories)
    .bind(&u.leader_in_charge)
    .bind(&u.top_leader)
    .bind(u.active)
    .bind(now)
    .bind(&user.0.sub)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let doc = serde_json::json!({
        "id": id, "version": version, "name": u.name.trim(), "kind": kind,
        "jurisdiction_code": u.jurisdiction_code, "categories": u.categories,
        "leader_in_charge": u.leader_in_charge, "top_leader": u.top_leader, "active": u.active,
    });
    sqlx::query(
        "INSERT INTO unit_versions (id, version, doc, changed_at, changed_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(version)
    .bind(&doc)
    .bind(now)
    .bind(&user.0.sub)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let before: Option<serde_json::Value> = match &prev {
        Some((v, _)) => {
            sqlx::query_scalar("SELECT doc FROM unit_versions WHERE id = $1 AND version = $2")
                .bind(&id)
                .bind(v)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
        }
        None => None,
    };
    let change = audit::Change {
        kind: "unit",
        key: &id,
        jurisdiction_code: &u.jurisdiction_code,
        action: audit::Action::upsert(&before),
        before,
        after: Some(doc.clone()),
    };
    audit::record(&mut tx, &user.0, &reason, now, &change)
        .await
        .map_err(db)?;
    catalog::bump(&mut tx).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    shared.reload(&pool).await.map_err(db)?;
    let mut resp = if prev.is_some() {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(resp.json(doc))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UnitQuery {
    jurisdiction: Option<String>,
    kind: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/units",
    tag = "units",
    params(UnitQuery),
    responses(
        (status = 200, description = "{units: [...]}, sorted by id"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn list_units(
    _user: Authenticated,
    q: web::Query<UnitQuery>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, Problem> {
    let cat = shared.get();
    let mut units: Vec<_> = cat
        .units
        .values()
        .filter(|u| {
            q.jurisdiction
                .as_deref()
                .is_none_or(|j| u.jurisdiction_code.starts_with(j))
                && q.kind.as_deref().is_none_or(|k| u.kind.as_str() == k)
        })
        .collect();
    units.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(HttpResponse::Ok().json(serde_json::json!({ "units": units })))
}

#[utoipa::path(
    get,
    path = "/v1/units/{id}",
    tag = "units",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "{unit, versions: [{version, doc, changed_at, changed_by}]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn get_unit(
    _user: Authenticated,
    path: web::Path<String>,
    pool: web::Data<PgPool>,
    shared: web::Data<Shared>,
    places: web::Data<Arc<Places>>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let cat = shared.get();
    // A configured unit, or the implicit letters-and-visits office of a division
    // (`<code>-xfb`), where cases go when no rule names another unit.
    let tree = places.get();
    let unit = cat
        .unit(&id, |code| {
            Code::parse(code)
                .ok()
                .and_then(|c| tree.name_of(&c).map(str::to_owned))
        })
        .ok_or_else(|| Problem::not_found("unit"))?;
    let versions: Vec<serde_json::Value> = sqlx::query(
        "SELECT version, doc, changed_at, changed_by FROM unit_versions WHERE id = $1 ORDER BY version",
    )
    .bind(&id)
    .fetch_all(pool.get_ref())
    .await
    .map_err(db)?
    .into_iter()
    .map(|r| {
        serde_json::json!({
            "version": r.get::<i32, _>("version"),
            "doc": r.get::<serde_json::Value, _>("doc"),
            "changed_at": r.get::<DateTime<Utc>, _>("changed_at"),
            "changed_by": r.get::<String, _>("changed_by"),
        })
    })
    .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "unit": unit, "versions": versions })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub jurisdiction_code: Option<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    pub competent_tier: String,
    #[serde(default)]
    pub lead_unit_id: Option<String>,
    #[serde(default)]
    pub lead_unit_kind: Option<String>,
    #[serde(default)]
    pub assisting_unit_ids: Vec<String>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub effective_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub effective_to: Option<DateTime<Utc>>,
}

#[utoipa::path(
    put,
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = String, Path, description = "Rule id"), ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    request_body = RuleInput,
    responses(
        (status = 200, description = "Version n+1 of the rule"), (status = 201, description = "The rule, first version"),
        (status = 400, description = "Not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(clippy::too_many_arguments)]
async fn put_rule(
    user: Authenticated,
    path: web::Path<String>,
    reason: Reason,
    body: ValidJson<RuleInput>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    places: web::Data<Arc<Places>>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let r = body.into_inner();
    let now = clock.now();
    let cat = shared.reload(&pool).await.map_err(db)?;
    let tree = places.get();
    let mut errs = Vec::new();
    if !valid_id(&id) {
        errs.push(FieldError::new(
            "id",
            "1 to 64 letters, digits, '-', '_', '.' or ':'",
        ));
    }
    if let Some(c) = &r.category {
        xf_http::require_text(&mut errs, "category", c, 40);
    }
    let scope = r.jurisdiction_code.clone().unwrap_or_default();
    if let Some(j) = &r.jurisdiction_code {
        match Code::parse(j) {
            Err(e) => errs.push(FieldError::new("jurisdiction_code", e.to_string())),
            Ok(c) if !tree.contains(&c) => errs.push(FieldError::new(
                "jurisdiction_code",
                format!("{c} is not in the jurisdiction tree"),
            )),
            Ok(_) => {}
        }
    }
    for (i, f) in r.flags.iter().enumerate() {
        if !FLAGS.contains(&f.as_str()) {
            errs.push(FieldError::new(
                format!("flags[{i}]"),
                format!("one of {}", FLAGS.join(", ")),
            ));
        }
    }
    let mut flags = r.flags.clone();
    flags.sort();
    flags.dedup();
    let tier = CompetentTier::parse(&r.competent_tier);
    if tier.is_none() {
        errs.push(FieldError::new(
            "competent_tier",
            "one of place, village, township, county",
        ));
    }
    let kind = match &r.lead_unit_kind {
        None => None,
        Some(k) => match UnitKind::parse(k) {
            Some(k) => Some(k),
            None => {
                errs.push(FieldError::new(
                    "lead_unit_kind",
                    "one of department, township_office, village_committee, discipline, xfb",
                ));
                None
            }
        },
    };
    if r.lead_unit_id.is_some() && r.lead_unit_kind.is_some() {
        errs.push(FieldError::new(
            "lead_unit_kind",
            "give lead_unit_id or lead_unit_kind, not both",
        ));
    }
    if let Some(lead) = &r.lead_unit_id {
        match cat.units.get(lead) {
            None => errs.push(FieldError::new(
                "lead_unit_id",
                format!("unknown unit {lead}"),
            )),
            Some(u) => {
                if !u.active {
                    errs.push(FieldError::new(
                        "lead_unit_id",
                        format!("unit {lead} is inactive"),
                    ));
                }
                if let (Some(t), Some(n)) = (tier, tier.and_then(CompetentTier::code_len))
                    && u.jurisdiction_code.len() != n
                {
                    errs.push(FieldError::new(
                        "lead_unit_id",
                        format!("unit {lead} is not at the {} tier", t.as_str()),
                    ));
                }
                let serves = scope.is_empty()
                    || scope.starts_with(&u.jurisdiction_code)
                    || u.jurisdiction_code.starts_with(&scope);
                if !serves {
                    errs.push(FieldError::new(
                        "lead_unit_id",
                        format!("unit {lead} does not serve {scope}"),
                    ));
                }
            }
        }
    }
    for (i, a) in r.assisting_unit_ids.iter().enumerate() {
        if !cat.units.contains_key(a) {
            errs.push(FieldError::new(
                format!("assisting_unit_ids[{i}]"),
                format!("unknown unit {a}"),
            ));
        }
    }
    let from = r.effective_from.unwrap_or(now);
    if let Some(to) = r.effective_to
        && to <= from
    {
        errs.push(FieldError::new(
            "effective_to",
            "must be after effective_from",
        ));
    }
    xf_http::limit_text(&mut errs, "note", &r.note, 500);
    if !errs.is_empty() {
        return Err(Problem::validation(errs));
    }
    admin_for(
        &user,
        if scope.is_empty() {
            // A rule for anywhere needs an administrator of the whole tree's root
            // county, or wider.
            user.0.jurisdiction.as_str()
        } else {
            scope.as_str()
        },
    )?;
    let mut tx = pool.begin().await.map_err(db)?;
    // One writer at a time, so that two rules saved together cannot be ambiguous.
    sqlx::query("LOCK TABLE rules IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let latest = sqlx::query(
        "SELECT id, version, category, jurisdiction_code, flags, competent_tier, lead_unit_id,
                lead_unit_kind, assisting_unit_ids, note, effective_from, effective_to
         FROM rules WHERE id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?
    .map(|row| catalog::rule_from_row(&row));
    if let Some(l) = &latest
        && from <= l.effective_from
    {
        return Err(Problem::validation(vec![FieldError::new(
            "effective_from",
            format!(
                "must be after the start of version {} ({})",
                l.version, l.effective_from
            ),
        )]));
    }
    let candidate = Rule {
        id: id.clone(),
        version: latest.as_ref().map_or(1, |l| l.version + 1),
        category: r.category.clone(),
        jurisdiction_code: r.jurisdiction_code.clone(),
        flags: flags.clone(),
        competent_tier: tier.unwrap_or(CompetentTier::Place),
        lead_unit_id: r.lead_unit_id.clone(),
        lead_unit_kind: kind,
        assisting_unit_ids: r.assisting_unit_ids.clone(),
        note: r.note.clone(),
        effective_from: from,
        effective_to: r.effective_to,
    };
    let others: Vec<Rule> = sqlx::query(
        "SELECT id, version, category, jurisdiction_code, flags, competent_tier, lead_unit_id,
                lead_unit_kind, assisting_unit_ids, note, effective_from, effective_to
         FROM rules WHERE id <> $1",
    )
    .bind(&id)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?
    .iter()
    .map(catalog::rule_from_row)
    .collect();
    if let Some(o) = others.iter().find(|o| candidate.ambiguous_with(o)) {
        return Err(Problem::conflict(format!(
            "rule {} version {} covers the same category, place and number of flags in an \
             overlapping period: a case could match both with equal specificity",
            o.id, o.version
        ))
        .field("jurisdiction_code", format!("ambiguous with rule {}", o.id)));
    }
    if let Some(l) = &latest
        && l.effective_to.is_none_or(|to| to > from)
    {
        sqlx::query("UPDATE rules SET effective_to = $3 WHERE id = $1 AND version = $2")
            .bind(&id)
            .bind(l.version)
            .bind(from)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    sqlx::query(
        "INSERT INTO rules (id, version, category, jurisdiction_code, flags, competent_tier,
             lead_unit_id, lead_unit_kind, assisting_unit_ids, note, effective_from, effective_to,
             created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&id)
    .bind(candidate.version)
    .bind(&candidate.category)
    .bind(&candidate.jurisdiction_code)
    .bind(&flags)
    .bind(candidate.competent_tier.as_str())
    .bind(&candidate.lead_unit_id)
    .bind(kind.map(UnitKind::as_str))
    .bind(&candidate.assisting_unit_ids)
    .bind(&candidate.note)
    .bind(from)
    .bind(candidate.effective_to)
    .bind(now)
    .bind(&user.0.sub)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let before = latest.as_ref().and_then(|l| serde_json::to_value(l).ok());
    let change = audit::Change {
        kind: "rule",
        key: &id,
        jurisdiction_code: candidate.jurisdiction_code.as_deref().unwrap_or(""),
        action: audit::Action::upsert(&before),
        before,
        after: serde_json::to_value(&candidate).ok(),
    };
    audit::record(&mut tx, &user.0, &reason, now, &change)
        .await
        .map_err(db)?;
    catalog::bump(&mut tx).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    shared.reload(&pool).await.map_err(db)?;
    let status = if latest.is_some() {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    let mut status = status;
    Ok(status.json(candidate))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RetireQuery {
    at: Option<DateTime<Utc>>,
}

#[utoipa::path(
    delete,
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = String, Path), RetireQuery, ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    responses(
        (status = 200, description = "{id, version, effective_to}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed in the current state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(clippy::too_many_arguments)]
async fn retire_rule(
    user: Authenticated,
    path: web::Path<String>,
    q: web::Query<RetireQuery>,
    reason: Reason,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let at = q.at.unwrap_or_else(|| clock.now());
    let mut tx = pool.begin().await.map_err(db)?;
    type Current = (i32, Option<String>, DateTime<Utc>, Option<DateTime<Utc>>);
    let row: Option<Current> = sqlx::query_as(
        "SELECT version, jurisdiction_code, effective_from, effective_to FROM rules
         WHERE id = $1 ORDER BY version DESC LIMIT 1 FOR UPDATE",
    )
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let (version, code, from, to) = row.ok_or_else(|| Problem::not_found("rule"))?;
    admin_for(
        &user,
        code.as_deref().unwrap_or(user.0.jurisdiction.as_str()),
    )?;
    if to.is_some_and(|t| t <= at) {
        return Err(Problem::conflict(format!(
            "rule {id} version {version} already ended"
        )));
    }
    if at <= from {
        return Err(Problem::validation(vec![FieldError::new(
            "at",
            format!("must be after the start of version {version} ({from})"),
        )]));
    }
    sqlx::query("UPDATE rules SET effective_to = $3 WHERE id = $1 AND version = $2")
        .bind(&id)
        .bind(version)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let change = audit::Change {
        kind: "rule",
        key: &id,
        jurisdiction_code: code.as_deref().unwrap_or(""),
        action: audit::Action::Retire,
        before: Some(serde_json::json!({"id": id, "version": version, "effective_to": to})),
        after: Some(serde_json::json!({"id": id, "version": version, "effective_to": at})),
    };
    audit::record(&mut tx, &user.0, &reason, clock.now(), &change)
        .await
        .map_err(db)?;
    catalog::bump(&mut tx).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    shared.reload(&pool).await.map_err(db)?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"id": id, "version": version, "effective_to": at})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RulesQuery {
    /// Rules in force at this moment (default: now); `all=true` lists every version.
    at: Option<DateTime<Utc>>,
    #[serde(default)]
    all: bool,
}

#[utoipa::path(
    get,
    path = "/v1/rules",
    tag = "rules",
    params(RulesQuery),
    responses(
        (status = 200, description = "{at, rules: [...]}: the rules in force at `at`, or every version"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn list_rules(
    _user: Authenticated,
    q: web::Query<RulesQuery>,
    clock: web::Data<Clock>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, Problem> {
    let cat = shared.get();
    let at = q.at.unwrap_or_else(|| clock.now());
    let rules: Vec<&Rule> = cat
        .rules
        .iter()
        .filter(|r| q.all || r.in_force(at))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "at": at, "rules": rules })))
}

#[utoipa::path(
    get,
    path = "/v1/rules/{id}",
    tag = "rules",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "{id, versions: [...]}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn get_rule(
    _user: Authenticated,
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let cat = shared.get();
    let mut versions: Vec<&Rule> = cat.rules.iter().filter(|r| r.id == id).collect();
    if versions.is_empty() {
        return Err(Problem::not_found("rule"));
    }
    versions.sort_by_key(|r| r.version);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": id, "versions": versions })))
}

#[utoipa::path(
    get,
    path = "/v1/divisions/{code}",
    tag = "divisions",
    params(("code" = String, Path, description = "6, 9 or 12 digits")),
    responses(
        (status = 200, description = "{code, name, tier, chain, children, tree_version}"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource for this caller (also outside its scope)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
async fn get_division(
    _user: Authenticated,
    path: web::Path<String>,
    pool: web::Data<PgPool>,
    places: web::Data<Arc<Places>>,
) -> Result<HttpResponse, Problem> {
    let code = Code::parse(&path.into_inner())
        .map_err(|e| Problem::validation(vec![FieldError::new("code", e.to_string())]))?;
    let tree = places.with(&pool, &code).await.map_err(db)?;
    let d = tree
        .get(&code)
        .ok_or_else(|| Problem::not_found("division"))?;
    let children: Vec<_> = tree
        .children(&code)
        .into_iter()
        .map(|c| serde_json::json!({"code": c.code, "name": c.name}))
        .collect();
    let chain: Vec<_> = code
        .chain()
        .into_iter()
        .filter_map(|c| {
            tree.get(&c)
                .map(|d| serde_json::json!({"code": d.code, "name": d.name, "tier": d.tier}))
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "code": d.code, "name": d.name, "tier": d.tier, "chain": chain, "children": children,
        "tree_version": places.version(),
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// `merge` (default) adds or renames divisions; `replace` swaps the whole tree.
    mode: Option<String>,
}

/// Imports divisions from one CSV body (`code,name[,…]`, any tier, any order). A bad
/// row refuses the whole import, naming its line.
#[utoipa::path(
    post,
    path = "/v1/admin/divisions",
    tag = "divisions",
    params(ImportQuery, ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    request_body(content = String, content_type = "text/csv", description = "code,name lines, any tier, any order"),
    responses(
        (status = 200, description = "What the import stored"),
        (status = 401, description = "No valid token (absent, forged, expired, wrong audience)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the role or the jurisdiction for this", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Wrong content type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields missing or invalid, each named in errors[]", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = []))
)]
#[allow(clippy::too_many_arguments)]
async fn import_divisions(
    user: Authenticated,
    req: HttpRequest,
    q: web::Query<ImportQuery>,
    reason: Reason,
    body: web::Bytes,
    pool: web::Data<PgPool>,
    places: web::Data<Arc<Places>>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&[roles::ADMIN])?;
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("text/csv") {
        return Err(Problem::new(xf_http::Code::UnsupportedMediaType)
            .detail("send the divisions as text/csv with a code,name header"));
    }
    let replace = match q.mode.as_deref() {
        None | Some("merge") => false,
        Some("replace") => true,
        Some(_) => {
            return Err(Problem::validation(vec![FieldError::new(
                "mode",
                "merge or replace",
            )]));
        }
    };
    let tree = Tree::from_combined_csv_partial(body.as_ref()).map_err(|e| match e {
        ImportError::Row { line, reason, .. } => {
            Problem::validation(vec![FieldError::new(format!("body line {line}"), reason)])
        }
        other => Problem::validation(vec![FieldError::new("body", other.to_string())]),
    })?;
    // Every division imported must lie within the administrator's jurisdiction.
    if let Some(d) = tree.divisions().find(|d| !user.0.covers(d.code.as_str())) {
        return Err(Problem::forbidden(format!(
            "{} lies outside your jurisdiction {}",
            d.code, user.0.jurisdiction
        )));
    }
    if replace {
        if tree.is_empty() {
            return Err(Problem::validation(vec![FieldError::new(
                "body",
                "a replacing import needs at least one division",
            )]));
        }
        // Replacing drops what is stored: only an administrator over all of it may.
        if let Some(d) = places
            .get()
            .divisions()
            .find(|d| !user.0.covers(d.code.as_str()))
        {
            return Err(Problem::forbidden(format!(
                "replacing would drop {} outside your jurisdiction; use mode=merge",
                d.code
            )));
        }
    }
    let stats = if replace {
        pg::replace(&pool, &tree).await.map_err(db)?
    } else {
        pg::upsert(&pool, &tree).await.map_err(|e| match e {
            pg::PgImportError::MissingParent { code, parent } => {
                Problem::validation(vec![FieldError::new(
                    "body",
                    format!("parent {parent} of {code} is neither in the body nor stored"),
                )])
            }
            pg::PgImportError::Db(e) => db(e),
        })?
    };
    if let Some((t, v)) = pg::load(&pool).await.map_err(db)? {
        places.set(t, v);
    }
    let result = serde_json::json!({
        "mode": if replace { "replace" } else { "merge" },
        "counties": stats.counties,
        "townships": stats.townships,
        "villages": stats.villages,
        "version": stats.version,
    });
    // The import commits in batches of its own; its record follows it.
    let change = audit::Change {
        kind: "division",
        key: "import",
        jurisdiction_code: &user.0.jurisdiction,
        action: audit::Action::Import,
        before: None,
        after: Some(result.clone()),
    };
    let mut tx = pool.begin().await.map_err(db)?;
    audit::record(&mut tx, &user.0, &reason, clock.now(), &change)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(result))
}
