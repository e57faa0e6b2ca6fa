//! Sign-in and sign-out. The development sign-in lists the demo county's users and
//! issues the same JWTs the services accept; the county's OIDC provider's sign-in is
//! in `crate::oidc`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::State;
use crate::page::{Page, csrf_refused, redirect, safe_next};
use crate::session::{self, Session};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/signin", web::get().to(form))
        .route("/signin/dev", web::post().to(dev_post))
        .route("/signin/dev/{user}", web::get().to(dev_link))
        .route("/signout", web::post().to(signout));
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
    expired: Option<String>,
}

async fn form(req: HttpRequest, state: web::Data<State>, q: web::Query<Next>) -> HttpResponse {
    let p = Page::new(&state, &req);
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    let users: Vec<_> = if state.signer.is_some() {
        state
            .users
            .iter()
            .map(|u| json!({"id": u.id, "label": u.label, "roles": u.roles, "unit": u.unit}))
            .collect()
    } else {
        Vec::new()
    };
    p.render(
        "signin.html",
        &state.ui.cat.t("signin.title"),
        json!({"next": next, "users": users, "dev": state.signer.is_some(),
            "oidc": state.settings.oidc.enabled,
            "was_expired": q.expired.is_some()}),
    )
}

#[derive(Deserialize)]
struct DevForm {
    csrf: String,
    user: String,
    next: Option<String>,
}

/// Issues the demo user's token and starts the session.
fn sign_in(state: &State, user_id: &str, next: &str) -> HttpResponse {
    let (Some(signer), Some(u)) = (
        state.signer.as_ref(),
        state.users.iter().find(|u| u.id == user_id),
    ) else {
        return redirect("/signin");
    };
    let claims = xf_auth::claims(
        &format!("demo-{}", u.id),
        &u.roles,
        u.unit.as_deref(),
        &u.jurisdiction,
        state.settings.session.ttl_secs,
    );
    let Ok(token) = signer.sign(&claims) else {
        return redirect("/signin");
    };
    let s = Session {
        token,
        csrf: session::secret(),
        name: state.ui.cat.t(u.label),
    };
    let next = safe_next(next);
    let to = if next == "/" {
        super::home_of(&claims).to_owned()
    } else {
        next
    };
    let mut r = redirect(&to);
    crate::session::set_cookie(&mut r, &state.sealer.session_cookie(&s));
    r
}

async fn dev_post(
    req: HttpRequest,
    state: web::Data<State>,
    f: web::Form<DevForm>,
) -> HttpResponse {
    let p = Page::new(&state, &req);
    if !p.csrf_ok(&f.csrf) {
        return csrf_refused(&p);
    }
    sign_in(&state, &f.user, f.next.as_deref().unwrap_or("/"))
}

/// `GET /signin/dev/{user}?next=…`: a signed-in link for the demo (development only).
async fn dev_link(
    state: web::Data<State>,
    path: web::Path<String>,
    q: web::Query<Next>,
) -> HttpResponse {
    sign_in(&state, &path, q.next.as_deref().unwrap_or("/"))
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn signout(
    req: HttpRequest,
    state: web::Data<State>,
    f: web::Form<CsrfOnly>,
) -> HttpResponse {
    let p = Page::new(&state, &req);
    if p.user.is_some() && !p.csrf_ok(&f.csrf) {
        return csrf_refused(&p);
    }
    let mut r = redirect("/");
    crate::session::set_cookie(&mut r, &state.sealer.clear_session());
    r
}
