//! The registration desk (reception staff): register a letter, visit, call or online
//! item with intake's fields, then print the receipt.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use xf_auth::roles;

use crate::State;
use crate::api::{ApiError, Svc};
use crate::page::{Page, csrf_refused, field_map};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/desk", web::get().to(form))
        .route("/desk", web::post().to(register));
}

/// The places a registrar may pick, grouped by township (labels from the division tree).
pub fn places(state: &State, scope: &str) -> Vec<Value> {
    let Ok(tree) = xf_jurisdiction::Tree::fixture() else {
        return Vec::new();
    };
    let mut groups = Vec::new();
    for t in tree.of_tier(xf_jurisdiction::Tier::Township) {
        let code = t.code.to_string();
        if !(code.starts_with(scope) || scope.starts_with(&code)) {
            continue;
        }
        let mut options = vec![
            json!({"code": code, "name": format!("{}（{}）", t.name, state.ui.cat.t("desk.whole_township"))}),
        ];
        for v in tree.children(&t.code) {
            let vc = v.code.to_string();
            if vc.starts_with(scope) {
                options.push(json!({"code": vc, "name": v.name}));
            }
        }
        groups.push(json!({"label": t.name, "options": options}));
    }
    groups
}

async fn form(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let p = match Page::require(&state, &req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !p.has(roles::REGISTRAR) {
        return p.fail(&ApiError::Forbidden(String::new()));
    }
    render_form(
        &p,
        StatusCode::OK,
        json!({"channel": "visit", "urgency": "normal", "envelope_condition": "intact"}),
        json!({}),
        None,
    )
    .await
}

async fn render_form(
    p: &Page<'_>,
    status: StatusCode,
    form: Value,
    errors: Value,
    message: Option<String>,
) -> HttpResponse {
    let scope = p
        .user
        .as_ref()
        .map(|u| u.claims.jurisdiction.clone())
        .unwrap_or_default();
    let categories = super::public::categories(p.state).await;
    let banner = if categories.is_empty() {
        Some(format!(
            "{}（{}）",
            p.state.ui.cat.t("error.unavailable"),
            p.state.ui.cat.t("svc.intake")
        ))
    } else {
        None
    };
    p.render_status(
        status,
        "desk.html",
        &p.state.ui.cat.t("desk.title"),
        json!({"form": form, "errors": errors, "message": message, "banner": banner,
            "categories": categories, "places": places(p.state, &scope)}),
    )
}

fn s<'a>(f: &'a Map<String, Value>, k: &str) -> &'a str {
    f.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
}

/// The body intake's `POST /v1/cases` takes, from the form.
pub fn body_of(f: &Map<String, Value>) -> Value {
    let mut b = json!({
        "channel": s(f, "channel"),
        "jurisdiction_code": s(f, "jurisdiction_code"),
        "category": s(f, "category"),
        "summary": s(f, "summary"),
    });
    let opt = |b: &mut Value, k: &str, v: &str| {
        if !v.is_empty() {
            b[k] = json!(v);
        }
    };
    opt(&mut b, "requests", s(f, "requests"));
    opt(&mut b, "urgency", s(f, "urgency"));
    opt(&mut b, "accused_unit_id", s(f, "accused_unit_id"));
    opt(&mut b, "on_the_spot_answer", s(f, "on_the_spot_answer"));
    let anonymous = s(f, "anonymous") == "on";
    if anonymous {
        b["anonymous"] = json!(true);
    } else {
        let mut pet = Map::new();
        for k in [
            "name",
            "gender",
            "phone",
            "id_number",
            "address",
            "occupation",
            "work_unit",
        ] {
            let v = s(f, &format!("p_{k}"));
            if !v.is_empty() {
                pet.insert(k.into(), json!(v));
            }
        }
        let age = s(f, "p_age");
        if !age.is_empty() {
            pet.insert(
                "age".into(),
                age.parse::<i64>().map(Value::from).unwrap_or(json!(age)),
            );
        }
        if !pet.is_empty() {
            b["petitioners"] = json!([Value::Object(pet)]);
        }
    }
    let headcount = s(f, "headcount");
    if !headcount.is_empty() {
        b["collective"] = json!({"headcount": headcount.parse::<i64>().map(Value::from).unwrap_or(json!(headcount))});
    }
    match s(f, "channel") {
        "letter" => {
            let mut l = Map::new();
            if !s(f, "received_on").is_empty() {
                l.insert("received_on".into(), json!(s(f, "received_on")));
            }
            if !s(f, "envelope_condition").is_empty() {
                l.insert(
                    "envelope_condition".into(),
                    json!(s(f, "envelope_condition")),
                );
            }
            b["letter"] = Value::Object(l);
        }
        "visit" => {
            let staff: Vec<&str> = s(f, "receiving_staff")
                .split([',', '，', ' ', '、'])
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .collect();
            b["visit"] = json!({"receiving_staff": staff});
        }
        _ => {}
    }
    let referral = s(f, "referral_channel");
    if !referral.is_empty() {
        b["referral"] = json!({"channel": referral});
    }
    b
}

/// intake's field names → the form's.
pub fn form_field(api_field: &str) -> String {
    let f = api_field
        .trim_start_matches("petitioners[0].")
        .trim_start_matches("petitioners.0.");
    if api_field.starts_with("petitioners") && f != api_field {
        return format!("p_{f}");
    }
    match api_field {
        "petitioners" => "p_name".into(),
        "visit.receiving_staff" | "visit" => "receiving_staff".into(),
        "letter.received_on" => "received_on".into(),
        "letter.envelope_condition" => "envelope_condition".into(),
        "collective.headcount" | "collective" => "headcount".into(),
        "referral.channel" | "referral" => "referral_channel".into(),
        other => other.to_owned(),
    }
}

async fn register(req: HttpRequest, state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    let mut p = match Page::require(&state, &req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    p.here = "/desk".into();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut f = Map::new();
    for (k, v) in pairs {
        f.insert(k, Value::String(v));
    }
    if !p.csrf_ok(s(&f, "csrf")) {
        return csrf_refused(&p);
    }
    f.remove("csrf");
    let body = body_of(&f);
    let form = Value::Object(f.clone());
    match state
        .api
        .post(Svc::Intake, "/v1/cases", p.token(), Some(&body))
        .await
    {
        Ok(receipt) => {
            let place = xf_jurisdiction::Tree::fixture()
                .ok()
                .and_then(|t| {
                    let code = xf_jurisdiction::Code::parse(s(&f, "jurisdiction_code")).ok()?;
                    t.name_of(&code).map(str::to_owned)
                })
                .unwrap_or_default();
            p.render(
                "receipt.html",
                &state.ui.cat.t("receipt.title"),
                json!({"receipt": receipt, "form": form, "place": place}),
            )
        }
        Err(ApiError::Invalid(fields, detail)) => {
            let mapped: Vec<(String, String)> = fields
                .iter()
                .map(|(k, m)| (form_field(k), m.clone()))
                .collect();
            let msg = if mapped.is_empty() {
                Some(detail)
            } else {
                None
            };
            render_form(
                &p,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                field_map(&mapped),
                msg,
            )
            .await
        }
        Err(ApiError::Forbidden(d)) => {
            let msg = format!("{}：{d}", state.ui.cat.t("error.forbidden"));
            render_form(&p, StatusCode::FORBIDDEN, form, json!({}), Some(msg)).await
        }
        Err(ApiError::Unavailable(svc)) => {
            let msg = format!(
                "{}（{}）",
                state.ui.cat.t("error.unavailable"),
                state.ui.cat.t(&format!("svc.{}", svc.name()))
            );
            render_form(
                &p,
                StatusCode::SERVICE_UNAVAILABLE,
                form,
                json!({}),
                Some(msg),
            )
            .await
        }
        Err(e) => p.fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visit_form_becomes_intakes_body_and_its_errors_find_their_fields() {
        let mut f = Map::new();
        for (k, v) in [
            ("channel", "visit"),
            ("jurisdiction_code", "330122002200"),
            ("category", "labour_wages"),
            ("summary", "工资未结清"),
            ("p_name", "张三"),
            ("p_age", "40"),
            ("receiving_staff", "甲, 乙"),
            ("headcount", ""),
        ] {
            f.insert(k.into(), json!(v));
        }
        let b = body_of(&f);
        assert_eq!(b["visit"]["receiving_staff"], json!(["甲", "乙"]));
        assert_eq!(b["petitioners"][0]["age"], json!(40));
        assert!(b.get("collective").is_none());
        assert_eq!(form_field("petitioners[0].phone"), "p_phone");
        assert_eq!(form_field("visit.receiving_staff"), "receiving_staff");
        assert_eq!(form_field("summary"), "summary");
    }
}
