//! Units: versioned writes by administrators, reads from the shared catalog.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xf_app::audit::{self, Reason};
use xf_auth::Authenticated;
use xf_http::{FieldError, Problem, ValidJson};
use xf_jurisdiction::Code;

use super::admin_for;
use crate::domain::catalog::UnitKind;
use crate::domain::rules::valid_id;
use crate::routes::Env;
use crate::store::catalog as store;
use xf_store::problem;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(put_unit, list_units, get_unit),
    components(schemas(UnitInput, Problem, xf_http::FieldError))
)]
pub struct Doc;

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
pub(super) async fn put_unit(
    user: Authenticated,
    path: web::Path<String>,
    reason: Reason,
    body: ValidJson<UnitInput>,
    env: Env,
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
            let tree = env
                .places
                .with(&env.pool, &c)
                .await
                .map_err(|e| problem(&e))?;
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
    let now = env.clock.now();
    let mut tx = env.pool.begin().await.map_err(|e| problem(&e))?;
    let prev = store::unit_for_update(&mut tx, &id)
        .await
        .map_err(|e| problem(&e))?;
    if let Some(p) = &prev {
        admin_for(&user, &p.jurisdiction_code)?;
    }
    let version = prev.as_ref().map_or(1, |p| p.version + 1);
    let doc = serde_json::json!({
        "id": id, "version": version, "name": u.name.trim(), "kind": kind,
        "jurisdiction_code": u.jurisdiction_code, "categories": u.categories,
        "leader_in_charge": u.leader_in_charge, "top_leader": u.top_leader, "active": u.active,
    });
    store::put_unit(
        &mut tx,
        &store::UnitWrite {
            id: &id,
            version,
            name: u.name.trim(),
            kind,
            jurisdiction_code: &u.jurisdiction_code,
            categories: &u.categories,
            leader_in_charge: u.leader_in_charge.as_deref(),
            top_leader: u.top_leader.as_deref(),
            active: u.active,
            at: now,
            by: &user.0.sub,
        },
        &doc,
    )
    .await
    .map_err(|e| problem(&e))?;
    let before = match &prev {
        Some(p) => store::unit_doc(&mut tx, &id, p.version)
            .await
            .map_err(|e| problem(&e))?,
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
        .map_err(|e| problem(&e))?;
    store::bump(&mut tx).await.map_err(|e| problem(&e))?;
    tx.commit().await.map_err(|e| problem(&e))?;
    env.shared
        .reload(&env.pool)
        .await
        .map_err(|e| problem(&e))?;
    let mut resp = if prev.is_some() {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(resp.json(doc))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UnitQuery {
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
pub(super) async fn list_units(
    _user: Authenticated,
    q: web::Query<UnitQuery>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let cat = env.shared.get();
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
pub(super) async fn get_unit(
    _user: Authenticated,
    path: web::Path<String>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let cat = env.shared.get();
    // A configured unit, or the implicit letters-and-visits office of a division
    // (`<code>-xfb`), where cases go when no rule names another unit.
    let tree = env.places.get();
    let unit = cat
        .unit(&id, |code| {
            Code::parse(code)
                .ok()
                .and_then(|c| tree.name_of(&c).map(str::to_owned))
        })
        .ok_or_else(|| Problem::not_found("unit"))?;
    let versions = store::unit_versions(env.pool.get_ref(), &id)
        .await
        .map_err(|e| problem(&e))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "unit": unit, "versions": versions })))
}
