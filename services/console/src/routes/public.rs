//! The petitioner's pages (no sign-in): look up a case by its registration number and
//! the query code on the receipt — status, expected date, reply, nothing else — and
//! submit a petition online.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::State;
use crate::api::{ApiError, Svc};
use crate::page::{Page, csrf_refused, field_map};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/lookup", web::get().to(lookup_form))
        .route("/lookup", web::post().to(lookup))
        .route("/submit", web::get().to(submit_form))
        .route("/submit", web::post().to(submit));
}

async fn lookup_form(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let p = Page::new(&state, &req);
    p.render(
        "lookup.html",
        &state.ui.cat.t("lookup.title"),
        json!({"form": {}}),
    )
}

#[derive(Deserialize, serde::Serialize)]
struct LookupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    registration_no: String,
    #[serde(default)]
    code: String,
}

/// POST, so that the query code stays out of addresses and logs.
async fn lookup(
    req: HttpRequest,
    state: web::Data<State>,
    f: web::Form<LookupForm>,
) -> HttpResponse {
    let p = Page::new(&state, &req);
    if !p.csrf_ok(&f.csrf) {
        return csrf_refused(&p);
    }
    let t = |k: &str| state.ui.cat.t(k);
    let no = f.registration_no.trim().to_owned();
    let code = f.code.trim().to_owned();
    let mut errors = Vec::new();
    if no.is_empty() {
        errors.push(("registration_no".to_owned(), t("form.required")));
    }
    if code.is_empty() {
        errors.push(("code".to_owned(), t("form.required")));
    }
    let form = json!({"registration_no": no, "code": code});
    if !errors.is_empty() {
        return p.render_status(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "lookup.html",
            &t("lookup.title"),
            json!({"form": form, "errors": field_map(&errors)}),
        );
    }
    let path = format!(
        "/v1/public/cases/{}",
        percent_encoding::utf8_percent_encode(&no, percent_encoding::NON_ALPHANUMERIC)
    );
    match state
        .api
        .get(Svc::Intake, &path, None, &[("code", code.as_str())])
        .await
    {
        Ok(v) => {
            // Only what the petitioner's view is for: status, the expected date, the reply.
            let shown = json!({
                "registration_no": v["registration_no"],
                "status": v["status"],
                "received_at": v["received_at"],
                "due_at": v["due_at"],
                "handled_by": v["handled_by"],
                "reply": v["reply"],
            });
            p.render(
                "lookup.html",
                &t("lookup.title"),
                json!({"form": {"registration_no": no}, "case": shown}),
            )
        }
        Err(ApiError::NotFound) | Err(ApiError::Invalid(..)) => p.render_status(
            actix_web::http::StatusCode::NOT_FOUND,
            "lookup.html",
            &t("lookup.title"),
            json!({"form": form, "not_found": true}),
        ),
        Err(e) => p.fail(&e),
    }
}

async fn submit_form(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let p = Page::new(&state, &req);
    let categories = categories(&state).await;
    p.render(
        "submit.html",
        &state.ui.cat.t("submit.title"),
        json!({"form": {}, "categories": categories,
            "enabled": !state.settings.public.open311_api_key.is_empty()}),
    )
}

/// The active categories (code, name), from intake; empty when it cannot be asked.
pub async fn categories(state: &State) -> Vec<serde_json::Value> {
    match state
        .api
        .get(Svc::Intake, "/v1/categories", None, &[])
        .await
    {
        Ok(v) => v
            .as_array()
            .cloned()
            .or_else(|| v["items"].as_array().cloned())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

#[derive(Deserialize)]
struct SubmitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
}

/// Submits through intake's Open311 endpoint with the console's own client key.
async fn submit(
    req: HttpRequest,
    state: web::Data<State>,
    f: web::Form<SubmitForm>,
) -> HttpResponse {
    let p = Page::new(&state, &req);
    if !p.csrf_ok(&f.csrf) {
        return csrf_refused(&p);
    }
    let t = |k: &str| state.ui.cat.t(k);
    let form = json!({"category": f.category, "place": f.place, "description": f.description,
        "name": f.name, "phone": f.phone});
    let key = state.settings.public.open311_api_key.clone();
    let categories = categories(&state).await;
    let mut errors = Vec::new();
    for (k, v) in [
        ("category", &f.category),
        ("place", &f.place),
        ("description", &f.description),
    ] {
        if v.trim().is_empty() {
            errors.push((k.to_owned(), t("form.required")));
        }
    }
    if errors.is_empty() && !key.is_empty() {
        let (last, first) = {
            let mut c = f.name.trim().chars();
            let last: String = c.next().map(String::from).unwrap_or_default();
            (last, c.collect::<String>())
        };
        // Only what was given: an empty name or phone is no name or phone.
        let given: Vec<(&str, &str)> = [
            ("api_key", key.as_str()),
            ("service_code", f.category.as_str()),
            ("address_id", f.place.trim()),
            ("description", f.description.as_str()),
            ("last_name", last.as_str()),
            ("first_name", first.as_str()),
            ("phone", f.phone.trim()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        let r = state
            .api
            .post_form(Svc::Intake, "/open311/v2/requests.json", &given)
            .await;
        match r {
            Ok(v) => {
                return p.render(
                    "submit.html",
                    &t("submit.title"),
                    json!({"done": v[0], "enabled": true}),
                );
            }
            Err(ApiError::Invalid(fields, detail)) => {
                let mapped: Vec<(String, String)> = fields
                    .into_iter()
                    .map(|(k, m)| {
                        let k = match k.as_str() {
                            "service_code" => "category".to_owned(),
                            "address_id" => "place".to_owned(),
                            "last_name" | "first_name" | "first_name/last_name" => {
                                "name".to_owned()
                            }
                            "category" | "place" | "description" | "name" | "phone" => k,
                            // Anything else is shown with the text, naming itself.
                            _ if k.is_empty() => k,
                            _ => return ("description".to_owned(), format!("{k}: {m}")),
                        };
                        (k, m)
                    })
                    .collect();
                let unnamed = mapped.iter().all(|(k, _)| k.is_empty());
                if mapped.is_empty() || unnamed {
                    let why = mapped
                        .into_iter()
                        .map(|(_, m)| m)
                        .collect::<Vec<_>>()
                        .join("；");
                    errors.push((
                        "description".to_owned(),
                        if why.is_empty() { detail } else { why },
                    ));
                } else {
                    errors.extend(mapped);
                }
            }
            Err(e) => return p.fail(&e),
        }
    }
    p.render_status(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        "submit.html",
        &t("submit.title"),
        json!({"form": form, "errors": field_map(&errors), "categories": categories,
            "enabled": !key.is_empty()}),
    )
}
