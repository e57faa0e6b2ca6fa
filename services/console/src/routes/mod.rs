//! The console's pages.

mod calendar;
mod dashboard;
mod desk;
mod monitor;
mod public;
mod signin;
mod work;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use xf_auth::roles;

use crate::State;
use crate::api::Svc;
use crate::page::{Page, redirect};

pub fn configure(cfg: &mut web::ServiceConfig, oidc_redirect_path: &str) {
    cfg.route("/health/livez", web::get().to(livez))
        .route("/health/readyz", web::get().to(readyz))
        .route("/static/{file}", web::get().to(static_file))
        .route("/vendor/{file}", web::get().to(vendor_file))
        .route("/", web::get().to(home));
    signin::configure(cfg);
    crate::oidc::configure(cfg, oidc_redirect_path);
    public::configure(cfg);
    desk::configure(cfg);
    work::configure(cfg);
    monitor::configure(cfg);
    dashboard::configure(cfg);
    calendar::configure(cfg);
    cfg.default_service(web::to(not_found));
}

async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when it can serve pages; each service's state is reported beside it (a page
/// whose service is down shows a banner, the others keep working).
async fn readyz(state: web::Data<State>) -> HttpResponse {
    let mut body = serde_json::Map::new();
    for svc in [
        Svc::Intake,
        Svc::Routing,
        Svc::Supervision,
        Svc::Scheduling,
        Svc::Reporting,
    ] {
        let ok = state.api.ready(svc).await;
        body.insert(
            svc.name().into(),
            json!(if ok { "ok" } else { "unreachable" }),
        );
    }
    HttpResponse::Ok().json(body)
}

const CSS: &str = include_str!("../../static/console.css");
const JS: &str = include_str!("../../static/console.js");

async fn static_file(path: web::Path<String>) -> HttpResponse {
    let (body, ct) = match path.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(ct)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(body)
}

/// The pinned third-party scripts, from the local assets folder (never a CDN).
async fn vendor_file(path: web::Path<String>, state: web::Data<State>) -> HttpResponse {
    let name = path.into_inner();
    if !["echarts.min.js"].contains(&name.as_str()) {
        return HttpResponse::NotFound().finish();
    }
    match tokio::fs::read(state.assets_dir.join(&name)).await {
        Ok(b) => HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .insert_header(("Cache-Control", "public, max-age=86400"))
            .body(b),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

/// Home: a signed-in user goes to the page of their role; a visitor sees the public
/// pages and the sign-in.
async fn home(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let p = Page::new(&state, &req);
    if let Some(u) = &p.user {
        return redirect(home_of(&u.claims));
    }
    p.render("home.html", &state.ui.cat.t("home.title"), json!({}))
}

/// The first page of a user's role.
pub fn home_of(c: &xf_auth::Claims) -> &'static str {
    if c.has_role(roles::REGISTRAR) {
        "/desk"
    } else if c.has_role(roles::HANDLER) {
        "/work"
    } else if c.has_role(roles::SUPERVISOR) {
        "/monitor"
    } else if c.has_role(roles::LEADER) || c.has_role(roles::ANALYST) {
        "/dashboard"
    } else {
        "/calendar"
    }
}

async fn not_found(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let p = Page::new(&state, &req);
    p.render_status(
        actix_web::http::StatusCode::NOT_FOUND,
        "error.html",
        &state.ui.cat.t("error.title"),
        json!({"message": state.ui.cat.t("error.no_page")}),
    )
}
