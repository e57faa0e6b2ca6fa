//! reporting's HTTP API: statistics, dashboard panels, the monthly report, unit
//! assessment, hotspots, the resolution ledger and each case's history.

pub mod assessment;
pub mod cases;
pub mod hotspots;
pub mod ledger;
pub mod reports;
pub mod stats;

use actix_web::{HttpResponse, web};
use sqlx::PgPool;
use utoipa::OpenApi;
use xf_auth::Claims;
use xf_http::Problem;
use xf_http::openapi::BearerSecurity;

/// reporting's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Xinfang reporting",
        description = "Statistics folded from every case event (by period, tier, place, category, channel, unit and status), dashboard panels, the monthly report (JSON, CSV, XLSX), unit assessment, hotspot warnings, the resolution ledger and each case's history. Every figure is scoped by the token: a township sees itself and below, a county office its whole county; the accused unit of an accusation never sees it."
    ),
    modifiers(&BearerSecurity)
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(stats::Doc::openapi());
    doc.merge(reports::Doc::openapi());
    doc.merge(assessment::Doc::openapi());
    doc.merge(hotspots::Doc::openapi());
    doc.merge(ledger::Doc::openapi());
    doc.merge(cases::Doc::openapi());
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    xf_app::openapi::serve(cfg, document());
    stats::configure(cfg);
    reports::configure(cfg);
    assessment::configure(cfg);
    hotspots::configure(cfg);
    ledger::configure(cfg);
    cases::configure(cfg);
}

/// The jurisdiction a request reads: the one asked for (inside the token's) or the
/// token's own. Only overseers (supervisors, leaders, analysts, administrators) read
/// figures. An asked-for code must be well formed, covered by the token (403 naming
/// `jurisdiction`) and known (some case arose under it; 422 otherwise).
pub async fn scope(user: &Claims, asked: Option<&str>, pool: &PgPool) -> Result<String, Problem> {
    if !xf_access::is_overseer(user) {
        return Err(Problem::forbidden(
            "figures need one of the roles: supervisor, leader, analyst, admin",
        ));
    }
    let Some(j) = asked else {
        return Ok(user.jurisdiction.clone());
    };
    if let Err(e) = xf_jurisdiction::Code::parse(j) {
        return Err(Problem::validation(vec![xf_http::FieldError::new(
            "jurisdiction",
            e.to_string(),
        )]));
    }
    if !user.covers(j) {
        return Err(
            Problem::forbidden("the jurisdiction lies outside your token's")
                .field("jurisdiction", "not covered by the token"),
        );
    }
    if j != user.jurisdiction
        && !crate::store::stats::place_known(pool, j)
            .await
            .map_err(|e| xf_store::problem(&e))?
    {
        return Err(Problem::validation(vec![xf_http::FieldError::new(
            "jurisdiction",
            format!("unknown code {j}: no case arose there"),
        )]));
    }
    Ok(j.to_owned())
}

/// The token's own jurisdiction for an action (a scan, an archive sweep, a report),
/// which must be one where some case arose: 422 naming `jurisdiction` otherwise.
pub async fn acting_scope(user: &Claims, pool: &PgPool) -> Result<String, Problem> {
    let scope = scope(user, None, pool).await?;
    if !crate::store::stats::place_known(pool, &scope)
        .await
        .map_err(|e| xf_store::problem(&e))?
    {
        return Err(Problem::validation(vec![xf_http::FieldError::new(
            "jurisdiction",
            format!("no case arose under {scope}"),
        )]));
    }
    Ok(scope)
}

/// A 422 from the domain's (field, message) pairs.
pub fn invalid(errs: Vec<(&'static str, String)>) -> Problem {
    Problem::validation(
        errs.into_iter()
            .map(|(f, m)| xf_http::FieldError::new(f, m))
            .collect(),
    )
}

/// The format a download is asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

pub fn format(f: Option<&str>) -> Result<Format, Problem> {
    match f {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        Some(other) => Err(Problem::validation(vec![xf_http::FieldError::new(
            "format",
            format!("{other:?}: one of json, csv, xlsx"),
        )])),
    }
}

/// A download response.
pub fn download(
    media: &str,
    filename: &str,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(media)
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body)
}

/// Today in Asia/Shanghai by the service's clock.
pub fn today(clock: &xf_app::Clock) -> chrono::NaiveDate {
    xf_calendar::shanghai_day(clock.now())
}
