//! One request's view of the user: the session (if any), its verified claims, the CSRF
//! secret forms carry, and rendering with the layout's common context.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, http::header};
use serde_json::{Value, json};
use xf_auth::{Claims, roles};

use crate::State;
use crate::api::ApiError;
use crate::session::{self, Session};

pub struct User {
    pub claims: Claims,
    pub session: Session,
}

impl User {
    pub fn has(&self, role: &str) -> bool {
        self.claims.has_role(role)
    }
}

pub struct Page<'a> {
    pub state: &'a State,
    pub user: Option<User>,
    /// The CSRF secret of this visitor: the session's, or the anonymous cookie's.
    pub csrf: String,
    /// A fresh anonymous CSRF secret to set as a cookie with the response.
    new_csrf: bool,
    /// The path and query asked for (for "back to the same page" after sign-in).
    pub here: String,
    /// The session had a token that is no longer valid (expired).
    pub expired: bool,
}

/// Only local paths are followed after sign-in (no open redirects).
pub fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl<'a> Page<'a> {
    pub fn new(state: &'a State, req: &HttpRequest) -> Page<'a> {
        let here = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        };
        let mut expired = false;
        let user = state
            .sealer
            .session(req)
            .and_then(|s| match state.verifier.verify(&s.token) {
                Ok(claims) => Some(User { claims, session: s }),
                Err(_) => {
                    expired = true;
                    None
                }
            });
        let (csrf, new_csrf) = match &user {
            Some(u) => (u.session.csrf.clone(), false),
            None => match session::cookie(req, session::CSRF_COOKIE) {
                Some(c) if c.len() >= 16 => (c, false),
                _ => (session::secret(), true),
            },
        };
        Page {
            state,
            user,
            csrf,
            new_csrf,
            here,
            expired,
        }
    }

    /// The page of a signed-in user, or the sign-in page that brings them back here.
    #[allow(clippy::result_large_err)] // the response goes straight back to actix
    pub fn require(state: &'a State, req: &HttpRequest) -> Result<Page<'a>, HttpResponse> {
        let p = Page::new(state, req);
        if p.user.is_some() {
            Ok(p)
        } else {
            Err(p.to_signin())
        }
    }

    /// The sign-in page, then back to this one. A GET comes back to itself; a POST to
    /// the page the form was on (its Referer's path) or home.
    pub fn to_signin(&self) -> HttpResponse {
        let mut to = format!("/signin?next={}", enc(&self.here));
        if self.expired {
            to.push_str("&expired=1");
        }
        let mut r = redirect(&to);
        if self.expired {
            crate::session::set_cookie(&mut r, &self.state.sealer.clear_session());
        }
        r
    }

    pub fn token(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.session.token.as_str())
    }

    pub fn has(&self, role: &str) -> bool {
        self.user.as_ref().is_some_and(|u| u.has(role))
    }

    pub fn csrf_ok(&self, given: &str) -> bool {
        session::csrf_ok(&self.csrf, given) && !self.new_csrf
    }

    fn nav(&self) -> Vec<Value> {
        let mut items: Vec<(&str, &str)> = Vec::new();
        if let Some(u) = &self.user {
            if u.has(roles::REGISTRAR) {
                items.push(("/desk", "nav.desk"));
            }
            if u.has(roles::HANDLER) || u.has(roles::SUPERVISOR) || u.has(roles::LEADER) {
                items.push(("/work", "nav.work"));
            }
            if u.has(roles::SUPERVISOR) || u.has(roles::LEADER) {
                items.push(("/monitor", "nav.monitor"));
            }
            if u.has(roles::LEADER) || u.has(roles::ANALYST) || u.has(roles::SUPERVISOR) {
                items.push(("/dashboard", "nav.dashboard"));
            }
        }
        items.push(("/calendar", "nav.calendar"));
        items.push(("/lookup", "nav.lookup"));
        let path = self.here.split('?').next().unwrap_or("");
        items
            .into_iter()
            .map(|(href, label)| {
                json!({"href": href, "label": label,
                    "active": path == href || path.starts_with(&format!("{href}/"))})
            })
            .collect()
    }

    fn context(&self, title: &str, extra: Value) -> Value {
        let user = self.user.as_ref().map(|u| {
            json!({"name": u.session.name, "sub": u.claims.sub, "roles": u.claims.roles,
                "unit": u.claims.unit, "jurisdiction": u.claims.jurisdiction})
        });
        let mut ctx = json!({
            "title": title,
            "user": user,
            "csrf": self.csrf,
            "here": self.here,
            "nav": self.nav(),
            "expired": self.expired,
        });
        if let (Some(m), Value::Object(e)) = (ctx.as_object_mut(), extra) {
            m.extend(e);
        }
        ctx
    }

    /// Renders `tpl` with the common context and `extra`, answering `status`.
    pub fn render_status(
        &self,
        status: StatusCode,
        tpl: &str,
        title: &str,
        extra: Value,
    ) -> HttpResponse {
        let ctx = self.context(title, extra);
        let body = match self
            .state
            .ui
            .render(tpl, minijinja::Value::from_serialize(&ctx))
        {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(template = tpl, error = %e, "template failed");
                return HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body(self.state.ui.cat.t("error.internal"));
            }
        };
        let mut r = HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body);
        if self.new_csrf {
            crate::session::set_cookie(&mut r, &self.state.sealer.csrf_cookie(&self.csrf));
        }
        r
    }

    pub fn render(&self, tpl: &str, title: &str, extra: Value) -> HttpResponse {
        self.render_status(StatusCode::OK, tpl, title, extra)
    }

    /// The page for a failed call: sign in again, a service-down banner, not found…
    pub fn fail(&self, e: &ApiError) -> HttpResponse {
        let t = |k: &str| self.state.ui.cat.t(k);
        let (status, msg) = match e {
            ApiError::Unauthenticated => {
                let p = Page {
                    expired: true,
                    ..Page::new_from(self)
                };
                return p.to_signin();
            }
            ApiError::Unavailable(svc) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{}（{}）",
                    t("error.unavailable"),
                    t(&format!("svc.{}", svc.name()))
                ),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, t("error.not_found")),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, t("error.forbidden")),
            ApiError::Conflict(d) => (
                StatusCode::CONFLICT,
                format!("{}：{d}", t("error.conflict")),
            ),
            ApiError::Invalid(f, d) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{}：{}",
                    t("error.invalid"),
                    if f.is_empty() {
                        d.clone()
                    } else {
                        f.iter()
                            .map(|(k, m)| format!("{k} {m}"))
                            .collect::<Vec<_>>()
                            .join("；")
                    }
                ),
            ),
            ApiError::Other(s, _) => (
                StatusCode::BAD_GATEWAY,
                format!("{}（{s}）", t("error.other")),
            ),
        };
        let banner = matches!(e, ApiError::Unavailable(_));
        self.render_status(
            status,
            "error.html",
            &t("error.title"),
            json!({"message": msg, "banner": if banner { Some(msg.clone()) } else { None }}),
        )
    }

    fn new_from(p: &Page<'a>) -> Page<'a> {
        Page {
            state: p.state,
            user: None,
            csrf: p.csrf.clone(),
            new_csrf: p.new_csrf,
            here: p.here.clone(),
            expired: p.expired,
        }
    }
}

/// A page for a refused form (bad or missing CSRF token).
pub fn csrf_refused(p: &Page) -> HttpResponse {
    let t = p.state.ui.cat.t("error.csrf");
    p.render_status(
        StatusCode::FORBIDDEN,
        "error.html",
        &p.state.ui.cat.t("error.title"),
        json!({"message": t}),
    )
}

/// Field errors as a map the templates look up beside each field.
pub fn field_map(fields: &[(String, String)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in fields {
        m.entry(k.clone())
            .and_modify(|e| {
                if let Value::String(s) = e {
                    s.push('；');
                    s.push_str(v);
                }
            })
            .or_insert_with(|| Value::String(v.clone()));
    }
    Value::Object(m)
}
