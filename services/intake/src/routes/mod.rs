pub(crate) mod cases;
pub mod limit;
mod public;
mod vault;

use std::sync::Arc;
use xf_http::openapi::BearerSecurity;

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use limit::Bucket;
use sqlx::{PgPool, Row};
use utoipa::OpenApi;
use xf_http::Problem;
use xf_jurisdiction::Tree;

pub use limit::PublicLimits;

use crate::settings::CitizenSettings;

/// What registering a case takes from the application, in one extractor (the
/// registration desk and Open311's POST both need all of it).
pub struct Desk {
    pub pool: web::Data<PgPool>,
    pub tree: web::Data<Tree>,
    pub clock: web::Data<xf_app::Clock>,
    pub outbox: web::Data<xf_bus::Outbox>,
    pub vault: web::Data<crate::vault::Vault>,
    pub peers: web::Data<crate::peers::Peers>,
}

impl actix_web::FromRequest for Desk {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        fn data<T: 'static>(req: &actix_web::HttpRequest) -> Result<web::Data<T>, Problem> {
            req.app_data::<web::Data<T>>().cloned().ok_or_else(|| {
                Problem::internal(&format!("{} is not configured", std::any::type_name::<T>()))
            })
        }
        std::future::ready((|| {
            Ok(Desk {
                pool: data(req)?,
                tree: data(req)?,
                clock: data(req)?,
                outbox: data(req)?,
                vault: data(req)?,
                peers: data(req)?,
            })
        })())
    }
}

/// Shared state of intake's routes.
#[derive(Clone)]
pub struct State {
    pub tree: Arc<Tree>,
    pub vault: crate::vault::Vault,
    pub limits: PublicLimits,
    pub citizen: CitizenSettings,
    pub peers: crate::peers::Peers,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Xinfang intake", description = "Registration of letters, visits, calls and online petitions; the citizen's view; the petitioner vault."),
    paths(
        cases::register, cases::get, vault::petitioners, vault::audit,
        public::status, public::review, public::satisfaction, categories, put_category
    ),
    components(schemas(
        crate::domain::register::NewCase, crate::domain::register::Receipt, crate::domain::register::Petitioner,
        crate::domain::register::LetterDetails, crate::domain::register::VisitDetails, crate::domain::register::Attachment,
        crate::domain::register::Collective, crate::domain::register::Referral, crate::domain::register::Superior,
        public::ReviewRequest, public::SatisfactionRequest, public::Accepted, CategoryBody,
        xf_http::Problem, xf_http::FieldError
    )),
    modifiers(&BearerSecurity)
)]
pub struct ApiDoc;

/// intake's whole document: the native API and Open311.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::open311::Doc::openapi());
    doc
}

/// The category taxonomy.
#[utoipa::path(get, path = "/v1/categories", responses(
    (status = 200, description = "code, name, class and public flag of each active category"),
    (status = 429, description = "Over this client's budget (no token: the citizen budget applies), with Retry-After")))]
async fn categories(pool: web::Data<PgPool>) -> Result<HttpResponse, Problem> {
    let rows =
        sqlx::query("SELECT code, name, class, public FROM categories WHERE active ORDER BY code")
            .fetch_all(pool.get_ref())
            .await
            .map_err(|e| xf_store::problem(&e))?;
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "code": r.get::<String, _>("code"),
                "name": r.get::<String, _>("name"),
                "class": r.get::<String, _>("class"),
                "public": r.get::<bool, _>("public"),
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
    /// Requests in this category are listed publicly by Open311 (matters of the place
    /// such as roads); never for accusations. Default false.
    #[serde(default)]
    pub public: bool,
}

fn yes() -> bool {
    true
}

/// Adds or changes a category of the taxonomy (administrators).
#[utoipa::path(put, path = "/v1/categories/{code}", request_body = CategoryBody, params(("code" = String, Path), ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    responses((status = 200, description = "Saved"), (status = 400, description = "Not valid JSON"),
        (status = 401, description = "No valid token"), (status = 403, description = "Not an administrator"),
        (status = 422, description = "Fields invalid, each named")), security(("bearer" = [])))]
async fn put_category(
    user: xf_auth::Authenticated,
    path: web::Path<String>,
    reason: xf_app::audit::Reason,
    body: xf_http::ValidJson<CategoryBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<xf_app::Clock>,
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
    if b.public && b.class == "accusation" {
        e.push(xf_http::FieldError::new(
            "public",
            "accusations (检举控告) are never public",
        ));
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    let after = serde_json::json!({"code": code, "name": b.name.trim(),
        "class": b.class, "active": b.active, "public": b.public});
    let db = |e: sqlx::Error| xf_store::problem(&e);
    let mut tx = pool.begin().await.map_err(db)?;
    let before = sqlx::query_as::<_, (String, String, bool, bool)>(
        "SELECT name, class, active, public FROM categories WHERE code = $1 FOR UPDATE",
    )
    .bind(&code)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?
    .map(|(name, class, active, public)| {
        serde_json::json!({"code": code, "name": name, "class": class, "active": active, "public": public})
    });
    sqlx::query(
        "INSERT INTO categories (code, name, class, active, public) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, class = EXCLUDED.class,
             active = EXCLUDED.active, public = EXCLUDED.public",
    )
    .bind(&code)
    .bind(b.name.trim())
    .bind(&b.class)
    .bind(b.active)
    .bind(b.public)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if before.as_ref() != Some(&after) {
        let change = xf_app::audit::Change {
            kind: "category",
            key: &code,
            jurisdiction_code: "",
            action: xf_app::audit::Action::upsert(&before),
            before,
            after: Some(after.clone()),
        };
        xf_app::audit::record(&mut tx, &user.0, &reason, clock.now(), &change)
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(after))
}

pub fn configure(cfg: &mut web::ServiceConfig, st: State) {
    cfg.app_data(web::Data::from(st.tree.clone()))
        .app_data(web::Data::new(st.vault.clone()))
        .app_data(web::Data::new(st.limits))
        .app_data(web::Data::new(st.citizen.clone()))
        .app_data(web::Data::new(st.peers.clone()))
        .configure(|cfg| xf_app::openapi::serve(cfg, document()))
        .service(
            // No token needed: the citizen's budget applies.
            web::resource("/v1/categories")
                .wrap(from_fn(|req, next| limit::gate(Bucket::Citizen, req, next)))
                .route(web::get().to(categories)),
        )
        .route("/v1/categories/{code}", web::put().to(put_category))
        .route("/v1/cases", web::post().to(cases::register))
        .route("/v1/cases/{id}", web::get().to(cases::get))
        .route(
            "/v1/cases/{id}/petitioners",
            web::get().to(vault::petitioners),
        )
        .route("/v1/vault/audit", web::get().to(vault::audit))
        .service(
            web::scope("/v1/public")
                .wrap(from_fn(|req, next| limit::gate(Bucket::Citizen, req, next)))
                .route("/cases/{registration_no}", web::get().to(public::status))
                .route(
                    "/cases/{registration_no}/review",
                    web::post().to(public::review),
                )
                .route(
                    "/cases/{registration_no}/satisfaction",
                    web::post().to(public::satisfaction),
                )
                .default_service(web::to(xf_http::not_found)),
        );
}
