//! The jurisdiction tree: one division with its chain and children; CSV imports.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use xf_app::audit::{self, Reason};
use xf_auth::{Authenticated, roles};
use xf_http::{FieldError, Problem};
use xf_jurisdiction::{Code, ImportError, Tree, pg};

use crate::routes::Env;
use xf_store::problem;

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_division, import_divisions))]
pub struct Doc;

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
pub(super) async fn get_division(
    _user: Authenticated,
    path: web::Path<String>,
    env: Env,
) -> Result<HttpResponse, Problem> {
    let code = Code::parse(&path.into_inner())
        .map_err(|e| Problem::validation(vec![FieldError::new("code", e.to_string())]))?;
    let tree = env
        .places
        .with(&env.pool, &code)
        .await
        .map_err(|e| problem(&e))?;
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
        "tree_version": env.places.version(),
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ImportQuery {
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
pub(super) async fn import_divisions(
    user: Authenticated,
    req: HttpRequest,
    q: web::Query<ImportQuery>,
    reason: Reason,
    body: web::Bytes,
    env: Env,
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
        if let Some(d) = env
            .places
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
        pg::replace(&env.pool, &tree)
            .await
            .map_err(|e| problem(&e))?
    } else {
        pg::upsert(&env.pool, &tree).await.map_err(|e| match e {
            pg::PgImportError::MissingParent { code, parent } => {
                Problem::validation(vec![FieldError::new(
                    "body",
                    format!("parent {parent} of {code} is neither in the body nor stored"),
                )])
            }
            pg::PgImportError::Db(e) => problem(&e),
        })?
    };
    if let Some((t, v)) = pg::load(&env.pool).await.map_err(|e| problem(&e))? {
        env.places.set(t, v);
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
    let mut tx = env.pool.begin().await.map_err(|e| problem(&e))?;
    audit::record(&mut tx, &user.0, &reason, env.clock.now(), &change)
        .await
        .map_err(|e| problem(&e))?;
    tx.commit().await.map_err(|e| problem(&e))?;
    Ok(HttpResponse::Ok().json(result))
}
