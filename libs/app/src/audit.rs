//! The admin audit trail every service keeps (table `admin_audit`, from the shared
//! migrations): each change to what steers the service — who made it, when, the thing
//! before and after, and the reason given — written in the change's own transaction,
//! and `GET /v1/admin/audit` to list it for administrators and supervisors.
//!
//! A change's reason comes in the query string, `?reason=…` (at most 500 characters),
//! like the reason of a sealed read.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use xf_auth::{Authenticated, Claims, roles};
use xf_http::{FieldError, Problem};

/// Who may read the trail.
pub const READERS: [&str; 2] = [roles::ADMIN, roles::SUPERVISOR];

/// The longest reason kept.
pub const MAX_REASON: usize = 500;

/// What was done to the thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Retire,
    Import,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Retire => "retire",
            Action::Import => "import",
        }
    }

    /// `Create` when there was nothing before, else `Update`.
    pub fn upsert(before: &Option<serde_json::Value>) -> Action {
        if before.is_some() {
            Action::Update
        } else {
            Action::Create
        }
    }
}

/// The reason given for a change: `?reason=` in the query string, optional, at most
/// [`MAX_REASON`] characters (422 `reason` beyond).
#[derive(Debug, Clone, Default)]
pub struct Reason(pub Option<String>);

#[derive(Deserialize)]
struct ReasonQuery {
    reason: Option<String>,
}

impl Reason {
    fn parse(query: &str) -> Result<Reason, Problem> {
        let q = web::Query::<ReasonQuery>::from_query(query).map_err(|_| {
            Problem::validation(vec![FieldError::new(
                "reason",
                "must be URL-encoded text (percent-encoded UTF-8)",
            )])
        })?;
        let reason = q
            .into_inner()
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON)
        {
            return Err(Problem::validation(vec![FieldError::new(
                "reason",
                format!("must be at most {MAX_REASON} characters"),
            )]));
        }
        Ok(Reason(reason))
    }
}

impl FromRequest for Reason {
    type Error = Problem;
    type Future = Ready<Result<Reason, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Reason::parse(req.query_string()))
    }
}

/// One change, as the owning service describes it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// What kind of thing: `category`, `rule`, `unit`, `policy`, `office`, …
    pub kind: &'a str,
    /// Its key within the kind.
    pub key: &'a str,
    /// The scope of the thing ("" for the whole deployment).
    pub jurisdiction_code: &'a str,
    pub action: Action,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Who made a change.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub sub: &'a str,
    pub unit: Option<&'a str>,
    pub scope: &'a str,
}

impl<'a> Actor<'a> {
    /// The signed-in user.
    pub fn user(user: &'a Claims) -> Actor<'a> {
        Actor {
            sub: &user.sub,
            unit: user.unit.as_deref().filter(|u| !u.is_empty()),
            scope: &user.jurisdiction,
        }
    }
}

/// Writes the change into the trail, in the caller's transaction.
pub async fn record(
    tx: &mut PgConnection,
    user: &Claims,
    reason: &Reason,
    at: DateTime<Utc>,
    c: &Change<'_>,
) -> Result<(), sqlx::Error> {
    record_by(tx, Actor::user(user), reason.0.as_deref(), at, c).await
}

/// The last `after` recorded for a thing, to tell whether it changed since.
pub async fn last_after(
    ex: impl sqlx::PgExecutor<'_>,
    kind: &str,
    key: &str,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT after FROM admin_audit WHERE kind = $1 AND key = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(kind)
    .bind(key)
    .fetch_optional(ex)
    .await
    .map(Option::flatten)
}

/// [`record`] for a change made by `actor` (the deployment's configuration, say).
pub async fn record_by(
    tx: &mut PgConnection,
    actor: Actor<'_>,
    reason: Option<&str>,
    at: DateTime<Utc>,
    c: &Change<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO admin_audit (at, actor, actor_unit, actor_scope, jurisdiction_code, kind, key,
                                  action, before, after, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(at)
    .bind(actor.sub)
    .bind(actor.unit)
    .bind(actor.scope)
    .bind(c.jurisdiction_code)
    .bind(c.kind)
    .bind(c.key)
    .bind(c.action.as_str())
    .bind(&c.before)
    .bind(&c.after)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One entry of the trail.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_unit: Option<String>,
    pub actor_scope: String,
    pub jurisdiction_code: String,
    pub kind: String,
    pub key: String,
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this kind of thing (`category`, `rule`, `unit`, `division`, `policy`, `office`, `open311_client`…).
    pub kind: Option<String>,
    /// Only this thing (with `kind`).
    pub key: Option<String>,
    /// Entries older than this id (the `next` of the previous page).
    pub before_id: Option<i64>,
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
}

/// The admin audit trail of this service, newest first: the changes to things within
/// the caller's jurisdiction and those that apply to the whole deployment.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", params(ListQuery),
    responses(
        (status = 200, description = "{items: [{id, at, actor, actor_unit, actor_scope, jurisdiction_code, kind, key, action, before, after, reason}], next}"),
        (status = 401, description = "No valid token", body = xf_http::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator or supervisor", body = xf_http::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad filter, each named", body = xf_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list(
    user: Authenticated,
    q: web::Query<ListQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&READERS)?;
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(100);
    let mut e = Vec::new();
    if !(1..=500).contains(&limit) {
        e.push(FieldError::new("limit", "must be 1 to 500"));
    }
    if q.key.is_some() && q.kind.is_none() {
        e.push(FieldError::new("key", "needs kind"));
    }
    if q.before_id.is_some_and(|b| b < 1) {
        e.push(FieldError::new("before_id", "must be a positive id"));
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    let items = sqlx::query_as::<_, Entry>(
        "SELECT id, at, actor, actor_unit, actor_scope, jurisdiction_code, kind, key, action,
                before, after, reason
         FROM admin_audit
         WHERE (jurisdiction_code = '' OR jurisdiction_code LIKE $1 || '%')
           AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR key = $3)
           AND ($4::bigint IS NULL OR id < $4)
         ORDER BY id DESC LIMIT $5",
    )
    .bind(&user.0.jurisdiction)
    .bind(q.kind.as_deref())
    .bind(q.key.as_deref())
    .bind(q.before_id)
    .bind(limit)
    .fetch_all(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|i| i.id))
        .flatten();
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items, "next": next})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_decoded_trimmed_and_bounded() {
        let r = Reason::parse("reason=%E8%B0%83%E6%95%B4%E5%88%86%E7%B1%BB").expect("ok");
        assert_eq!(r.0.as_deref(), Some("调整分类"));
        assert_eq!(Reason::parse("").expect("ok").0, None);
        assert_eq!(Reason::parse("reason=++").expect("ok").0, None);
        let long = format!("reason={}", "a".repeat(MAX_REASON + 1));
        assert!(Reason::parse(&long).is_err());
        assert_eq!(Action::upsert(&None), Action::Create);
        assert_eq!(Action::upsert(&Some(serde_json::json!({}))), Action::Update);
    }
}
