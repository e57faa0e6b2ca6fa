mod cases;
mod public;
mod vault;

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use sqlx::{PgPool, Row};
use utoipa::OpenApi;
use xf_http::Problem;
use xf_jurisdiction::Tree;

pub use public::RateLimiter;

use crate::settings::CitizenSettings;

/// Shared state of intake's routes.
#[derive(Clone)]
pub struct State {
    pub tree: Arc<Tree>,
    pub vault: crate::vault::Vault,
    pub limiter: Arc<RateLimiter>,
    pub citizen: CitizenSettings,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Xinfang intake", description = "Registration of letters, visits, calls and online petitions; the citizen's view; the petitioner vault."),
    paths(
        cases::register, cases::get, vault::petitioners, vault::audit,
        public::status, public::review, public::satisfaction, categories, put_category
    ),
    components(schemas(
        crate::register::NewCase, crate::register::Receipt, crate::register::Petitioner,
        crate::register::LetterDetails, crate::register::VisitDetails, crate::register::Attachment,
        crate::register::Collective, crate::register::Referral, crate::register::Superior,
        public::ReviewRequest, public::SatisfactionRequest, public::Accepted, CategoryBody
    )),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// The category taxonomy.
#[utoipa::path(get, path = "/v1/categories", responses((status = 200, description = "code, name, class of each active category")))]
async fn categories(pool: web::Data<PgPool>) -> Result<HttpResponse, Problem> {
    let rows = sqlx::query("SELECT code, name, class FROM categories WHERE active ORDER BY code")
        .fetch_all(pool.get_ref())
        .await
        .map_err(|e| Problem::unavailable(&e))?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "code": r.get::<String, _>("code"),
                "name": r.get::<String, _>("name"),
                "class": r.get::<String, _>("class"),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    pub name: String,
    /// suggestion (建议意见) | accusation (检举控告, confidential) | claim (申诉求决)
    pub class: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Adds or changes a category of the taxonomy (administrators).
#[utoipa::path(put, path = "/v1/categories/{code}", request_body = CategoryBody, params(("code" = String, Path)),
    responses((status = 200, description = "Saved"), (status = 403), (status = 422)), security(("bearer" = [])))]
async fn put_category(
    user: xf_auth::Authenticated,
    path: web::Path<String>,
    body: xf_http::ValidJson<CategoryBody>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    user.0.require_any_role(&[xf_auth::roles::ADMIN])?;
    let code = path.into_inner();
    let b = body.into_inner();
    let mut e = Vec::new();
    if !(2..=40).contains(&code.len()) || !code.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
    {
        e.push(xf_http::FieldError::new(
            "code",
            "must be 2 to 40 characters of a-z and _",
        ));
    }
    if b.name.trim().is_empty() || b.name.chars().count() > 50 {
        e.push(xf_http::FieldError::new(
            "name",
            "must be 1 to 50 characters",
        ));
    }
    if !["suggestion", "accusation", "claim"].contains(&b.class.as_str()) {
        e.push(xf_http::FieldError::new(
            "class",
            "must be suggestion, accusation or claim",
        ));
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    sqlx::query(
        "INSERT INTO categories (code, name, class, active) VALUES ($1, $2, $3, $4)
         ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, class = EXCLUDED.class, active = EXCLUDED.active",
    )
    .bind(&code)
    .bind(b.name.trim())
    .bind(&b.class)
    .bind(b.active)
    .execute(pool.get_ref())
    .await
    .map_err(|e| Problem::unavailable(&e))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"code": code, "name": b.name.trim(), "class": b.class, "active": b.active})))
}

pub fn configure(cfg: &mut web::ServiceConfig, st: State) {
    cfg.app_data(web::Data::from(st.tree.clone()))
        .app_data(web::Data::new(st.vault.clone()))
        .app_data(web::Data::from(st.limiter.clone()))
        .app_data(web::Data::new(st.citizen.clone()))
        .route("/openapi.json", web::get().to(openapi))
        .route("/v1/categories", web::get().to(categories))
        .route("/v1/categories/{code}", web::put().to(put_category))
        .route("/v1/cases", web::post().to(cases::register))
        .route("/v1/cases/{id}", web::get().to(cases::get))
        .route(
            "/v1/cases/{id}/petitioners",
            web::get().to(vault::petitioners),
        )
        .route("/v1/vault/audit", web::get().to(vault::audit))
        .route(
            "/v1/public/cases/{registration_no}",
            web::get().to(public::status),
        )
        .route(
            "/v1/public/cases/{registration_no}/review",
            web::post().to(public::review),
        )
        .route(
            "/v1/public/cases/{registration_no}/satisfaction",
            web::post().to(public::satisfaction),
        );
}
