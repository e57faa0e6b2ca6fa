//! POST and GET of service requests.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sqlx::{PgPool, Row};
use xf_app::Clock;
use xf_auth::{Claims, roles};
use xf_jurisdiction::{Code, Tree, scope_covers};

use super::render::{Fail, V, respond};
use super::{LIST_CAP, Open311, Params, RANGE_DAYS, accepted_attributes, answer, clip, location};
use crate::domain::public::{mask_numbers, public_place};
use crate::domain::register::{self, Collective, NewCase, Petitioner};
use crate::store;

/// Open311's name for a field of a registration.
fn open311_field(field: &str) -> &str {
    match field {
        "summary" => "description",
        "requests" => "attribute[requests]",
        "urgency" => "attribute[urgency]",
        "category" => "service_code",
        "jurisdiction_code" => "address_id",
        "accused_unit_id" => "attribute[accused_unit_id]",
        "collective.headcount" | "collective" => "attribute[headcount]",
        "petitioners" | "petitioners[0].name" => "first_name/last_name",
        "petitioners[0].phone" => "phone",
        other => other,
    }
}

/// A registration's validation problems as an Open311 400, each field named.
fn from_problem(p: xf_http::Problem) -> Fail {
    if p.errors.is_empty() {
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        if status.is_server_error() {
            return Fail::unavailable(&p.title);
        }
        return Fail::new(status, p.detail.unwrap_or(p.title));
    }
    Fail {
        status: StatusCode::BAD_REQUEST,
        descriptions: p
            .errors
            .iter()
            .map(|e| format!("{}: {}", open311_field(&e.field), e.message))
            .collect(),
    }
}

/// The `attribute[code]` values of a form.
fn attributes(form: &Params) -> Vec<(String, String)> {
    form.0
        .iter()
        .filter_map(|(k, v)| {
            let code = k.strip_prefix("attribute[")?.strip_suffix(']')?;
            Some((code.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn is_form(req: &HttpRequest) -> bool {
    match req.headers().get(actix_web::http::header::CONTENT_TYPE) {
        None => true,
        Some(v) => v
            .to_str()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded"),
    }
}

/// What a POST asks for, read from the form (everything but the registration check).
struct Posted {
    new_case: NewCase,
    media_url: Option<String>,
}

async fn read_post(
    form: &Params,
    pool: &PgPool,
    tree: &Tree,
    client: &super::Client,
) -> Result<Posted, Fail> {
    let Some(service_code) = form.get("service_code") else {
        return Err(Fail::bad_request("service_code: is required"));
    };
    let class = store::register::category(pool, service_code)
        .await
        .map_err(|e| Fail::unavailable(&e.title))?
        .map(|c| c.class)
        .ok_or_else(|| {
            Fail::bad_request(format!(
                "service_code: {} is not a service here; see services.json",
                clip(service_code, 40)
            ))
        })?;
    let has_coordinates = form.get("lat").is_some() || form.get("long").is_some();
    let code = location::locate(
        tree,
        form.get("address_id"),
        form.get("address_string"),
        has_coordinates,
    )?;
    if !scope_covers(client.office.as_str(), code.as_str()) {
        return Err(Fail::forbidden(format!(
            "this api_key registers matters inside {} only",
            client.office
        )));
    }
    let mut errors = Vec::new();
    let accepted = accepted_attributes(&class);
    let mut urgency = None;
    let mut requests = None;
    let mut headcount = None;
    let mut accused = None;
    for (k, v) in attributes(form) {
        if !accepted.contains(&k.as_str()) {
            errors.push(format!(
                "attribute[{}]: is not an attribute of service {service_code}",
                clip(&k, 40)
            ));
            continue;
        }
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "urgency" => urgency = Some(v),
            "requests" => requests = Some(v),
            "headcount" => match v.parse::<i64>() {
                Ok(n) if n >= 1 => headcount = Some(n),
                _ => errors
                    .push("attribute[headcount]: must be a whole number from 1 to 100000".into()),
            },
            "accused_unit_id" => accused = Some(v),
            _ => {}
        }
    }
    let description = form.get("description").unwrap_or("");
    if description.is_empty() {
        errors.push("description: is required".into());
    }
    let media_url = form.get("media_url").map(str::to_owned);
    if let Some(u) = &media_url
        && (u.len() > 1000
            || !(u.starts_with("https://") || u.starts_with("http://"))
            || u.chars().any(char::is_whitespace))
    {
        errors.push("media_url: must be an http(s) URL of at most 1000 characters".into());
    }
    if !errors.is_empty() {
        return Err(Fail {
            status: StatusCode::BAD_REQUEST,
            descriptions: errors,
        });
    }
    // Chinese order: family name, then given name, no space.
    let name = format!(
        "{}{}",
        form.get("last_name").unwrap_or(""),
        form.get("first_name").unwrap_or("")
    );
    let name = (!name.is_empty()).then_some(name);
    let phone = form.get("phone").map(str::to_owned);
    let petitioners = if name.is_some() || phone.is_some() {
        vec![Petitioner {
            name,
            phone,
            ..Petitioner::default()
        }]
    } else {
        Vec::new()
    };
    Ok(Posted {
        new_case: NewCase {
            channel: "online".into(),
            jurisdiction_code: code.to_string(),
            category: service_code.to_owned(),
            summary: description.to_owned(),
            requests,
            urgency,
            received_at: None,
            anonymous: false,
            petitioners,
            collective: headcount
                .filter(|n| *n > 1)
                .map(|headcount| Collective { headcount }),
            letter: None,
            visit: None,
            accused_unit_id: accused,
            on_the_spot_answer: None,
            referral: None,
            superior: None,
        },
        media_url,
    })
}

/// The registrar of a client's requests.
fn registrar(client: &super::Client, now: DateTime<Utc>) -> Claims {
    Claims {
        sub: format!("open311:{}", client.name),
        roles: vec![roles::REGISTRAR.to_owned()],
        unit: None,
        jurisdiction: client.office.to_string(),
        exp: (now + Duration::minutes(5)).timestamp(),
        iat: Some(now.timestamp()),
        iss: None,
        aud: None,
    }
}

/// POST requests.{format}: registers an online petition.
#[utoipa::path(
    post, path = "/open311/v2/requests.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("jurisdiction_id" = Option<String>, Query, description = "xinfang or a county code"), ("api_key" = Option<String>, Query, description = "Or in the form")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "api_key, service_code, address_id or address_string, description, first_name, last_name, phone, attribute[...], media_url"),
    responses((status = 201, description = "Registered as an online petition: service_request_id, token, service_notice"), (status = 400, description = "Fields missing or invalid, each named"), (status = 403, description = "No or unknown api_key, or a place outside the key's office"), (status = 404, description = "Unknown resource or foreign jurisdiction_id: [{code, description}]"), (status = 429, description = "Over this client's budget, or the event backlog over its bound: [{code, description}], with Retry-After"))
)]
pub(super) async fn post(
    req: HttpRequest,
    ext: web::Path<String>,
    body: web::Bytes,
    o: web::Data<Open311>,
    desk: crate::routes::Desk,
) -> HttpResponse {
    let crate::routes::Desk {
        pool,
        tree,
        clock,
        outbox,
        vault,
        peers,
    } = desk;
    answer(&ext, |format| async move {
        if !is_form(&req) {
            return Err(Fail::bad_request(
                "send the request as application/x-www-form-urlencoded",
            ));
        }
        let text =
            std::str::from_utf8(&body).map_err(|_| Fail::bad_request("the form is not UTF-8"))?;
        let form = Params::parse(text)?;
        let query = Params::query(&req)?;
        let key = form
            .get("api_key")
            .or_else(|| query.get("api_key"))
            .unwrap_or("");
        let Some(client) = o.clients.get(key) else {
            return Err(Fail::forbidden(if key.is_empty() {
                "api_key: is required to post a request"
            } else {
                "api_key: is not valid"
            }));
        };
        o.check_jurisdiction(
            &tree,
            form.get("jurisdiction_id").or(query.get("jurisdiction_id")),
        )?;
        crate::routes::cases::busy(&outbox).map_err(from_problem)?;
        let posted = read_post(&form, &pool, &tree, client).await?;
        let now = clock.now();
        let category = store::register::category(&pool, &posted.new_case.category)
            .await
            .map_err(from_problem)?;
        let checked =
            register::check(&tree, now, category, posted.new_case).map_err(from_problem)?;
        let checked = crate::peers::with_deadline(checked, &peers, now).await;
        let claims = registrar(client, now);
        let mut tx = pool.begin().await.map_err(|e| Fail::unavailable(&e))?;
        let receipt = store::register::persist(&mut tx, &vault, &outbox, &claims, now, checked)
            .await
            .map_err(|e| Fail::unavailable(&e))?;
        sqlx::query(
            "INSERT INTO open311_requests (case_id, client, media_url, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(receipt.case_id)
        .bind(&client.name)
        .bind(&posted.media_url)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| Fail::unavailable(&e))?;
        tx.commit().await.map_err(|e| Fail::unavailable(&e))?;
        tracing::info!(
            client = %client.name,
            xf.case_id = %receipt.case_id,
            registration_no = %receipt.registration_no,
            "open311: request registered"
        );
        let notice = format!(
            "{}登记编号：{}；查询码：{}。",
            receipt.message, receipt.registration_no, receipt.query_code
        );
        let v = V::List(
            "request",
            vec![V::Obj(vec![
                ("service_request_id", V::s(receipt.registration_no)),
                ("token", V::s(receipt.case_id.to_string())),
                ("service_notice", V::s(notice)),
                ("account_id", V::Null),
            ])],
        );
        Ok(respond(format, StatusCode::CREATED, "service_requests", &v))
    })
    .await
}

/// Open311's two states: closed and not-accepted cases are closed, the rest open.
pub fn open311_status(status: &str) -> &'static str {
    match status {
        "closed" | "not_accepted" => "closed",
        _ => "open",
    }
}

/// The status in words, for the citizen.
pub fn status_notes(status: &str) -> &'static str {
    match status {
        "registered" => "已登记，待转送办理",
        "dispatched" => "已转送责任单位",
        "accepted" => "已受理，正在办理",
        "not_accepted" => "不予受理",
        "replied" => "已答复",
        "closed" => "已办结",
        "escalated" => "已报送上级机关",
        "review_requested" => "已申请复查（复核）",
        "linked" => "已并入原件办理",
        _ => "办理中",
    }
}

fn w3(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Filters of GET requests.
#[derive(Default)]
struct Filter {
    ids: Option<Vec<String>>,
    codes: Option<Vec<String>>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    closed: Option<bool>,
}

fn date(p: &Params, key: &str) -> Result<Option<DateTime<Utc>>, Fail> {
    p.get(key)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    Fail::bad_request(format!(
                        "{key}: must be a w3c datetime with a time zone, such as 2025-01-01T00:00:00Z"
                    ))
                })
        })
        .transpose()
}

async fn filter(p: &Params, pool: &PgPool, now: DateTime<Utc>) -> Result<Filter, Fail> {
    let ids = p.list("service_request_id");
    if ids.len() > LIST_CAP as usize {
        return Err(Fail::bad_request(format!(
            "service_request_id: at most {LIST_CAP} ids"
        )));
    }
    if !ids.is_empty() {
        // The ids override every other filter.
        return Ok(Filter {
            ids: Some(ids),
            ..Filter::default()
        });
    }
    let mut errors = Vec::new();
    let codes = p.list("service_code");
    if !codes.is_empty() {
        let known: Vec<String> =
            sqlx::query_scalar("SELECT code FROM categories WHERE code = ANY($1)")
                .bind(&codes)
                .fetch_all(pool)
                .await
                .map_err(|e| Fail::unavailable(&e))?;
        for c in codes.iter().filter(|c| !known.contains(c)) {
            errors.push(format!(
                "service_code: {} is not a service here",
                clip(c, 40)
            ));
        }
    }
    let span = Duration::days(RANGE_DAYS);
    let (from, to) = match (date(p, "start_date")?, date(p, "end_date")?) {
        (Some(s), Some(e)) if e < s => {
            errors.push("end_date: must not be before start_date".into());
            (Some(s), Some(e))
        }
        (Some(s), Some(e)) if e - s > span => {
            errors.push(format!(
                "start_date/end_date: may not span more than {RANGE_DAYS} days"
            ));
            (Some(s), Some(e))
        }
        (Some(s), Some(e)) => (Some(s), Some(e)),
        (Some(s), None) => (Some(s), Some(s + span)),
        (None, Some(e)) => (Some(e - span), Some(e)),
        (None, None) => (Some(now - span), None),
    };
    let mut open = false;
    let mut closed = false;
    for s in p.list("status") {
        match s.as_str() {
            "open" => open = true,
            "closed" => closed = true,
            _ => errors.push("status: must be open or closed (comma delimited)".into()),
        }
    }
    if !errors.is_empty() {
        return Err(Fail {
            status: StatusCode::BAD_REQUEST,
            descriptions: errors,
        });
    }
    Ok(Filter {
        ids: None,
        codes: (!codes.is_empty()).then_some(codes),
        from,
        to,
        closed: (open != closed).then_some(closed),
    })
}

/// The public face of a case: requests in public categories only (never an
/// accusation or a personal matter, not even as a count), the place coarsened to the
/// township, phone and ID numbers masked in the description; no identity, no contact.
async fn fetch(pool: &PgPool, tree: &Tree, f: &Filter) -> Result<Vec<V>, Fail> {
    let rows = sqlx::query(
        "SELECT c.registration_no, c.status, c.category, k.name AS service_name, c.summary,
                c.unit_name, c.matter_code, c.received_at, c.updated_at, c.due_at
         FROM cases c JOIN categories k ON k.code = c.category
         WHERE k.public AND k.class <> 'accusation' AND NOT c.confidential
           AND ($1::text[] IS NULL OR c.registration_no = ANY($1))
           AND ($2::text[] IS NULL OR c.category = ANY($2))
           AND ($3::timestamptz IS NULL OR c.received_at >= $3)
           AND ($4::timestamptz IS NULL OR c.received_at <= $4)
           AND ($5::boolean IS NULL OR (c.status IN ('closed', 'not_accepted')) = $5)
         ORDER BY c.received_at DESC, c.registration_no
         LIMIT $6",
    )
    .bind(&f.ids)
    .bind(&f.codes)
    .bind(f.from)
    .bind(f.to)
    .bind(f.closed)
    .bind(LIST_CAP)
    .fetch_all(pool)
    .await
    .map_err(|e| Fail::unavailable(&e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let status: String = r.get("status");
            let matter: String = r.get("matter_code");
            let place = Code::parse(&matter).ok().map(|c| public_place(&c));
            let address = place
                .as_ref()
                .map(|c| super::location::full_name(tree, c))
                .unwrap_or_default();
            let address_id = place.map(|c| c.to_string()).unwrap_or_default();
            let description = mask_numbers(&r.get::<String, _>("summary"));
            V::Obj(vec![
                (
                    "service_request_id",
                    V::s(r.get::<String, _>("registration_no")),
                ),
                ("status", V::s(open311_status(&status))),
                ("status_notes", V::s(status_notes(&status))),
                ("service_name", V::s(r.get::<String, _>("service_name"))),
                ("service_code", V::s(r.get::<String, _>("category"))),
                ("description", V::s(description)),
                (
                    "agency_responsible",
                    V::opt(r.get::<Option<String>, _>("unit_name")),
                ),
                ("service_notice", V::Null),
                ("requested_datetime", V::s(w3(r.get("received_at")))),
                ("updated_datetime", V::s(w3(r.get("updated_at")))),
                (
                    "expected_datetime",
                    V::opt(r.get::<Option<DateTime<Utc>>, _>("due_at").map(w3)),
                ),
                ("address", V::s(address)),
                ("address_id", V::s(address_id)),
                ("zipcode", V::Null),
                ("lat", V::Null),
                ("long", V::Null),
                ("media_url", V::Null),
            ])
        })
        .collect())
}

/// GET requests.{format}: public, at most 1000, newest first; only public categories.
#[utoipa::path(
    get, path = "/open311/v2/requests.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("jurisdiction_id" = Option<String>, Query, description = "xinfang or a county code"), ("service_request_id" = Option<String>, Query), ("service_code" = Option<String>, Query), ("start_date" = Option<String>, Query), ("end_date" = Option<String>, Query), ("status" = Option<String>, Query, description = "open, closed or both")),
    responses((status = 200, description = "At most 1000 requests in public categories, newest first; places coarsened to the township"), (status = 400, description = "Bad filter, named"), (status = 404, description = "Unknown resource or foreign jurisdiction_id: [{code, description}]"), (status = 429, description = "Over this client's budget: [{code, description}], with Retry-After"))
)]
pub(super) async fn list(
    req: HttpRequest,
    ext: web::Path<String>,
    o: web::Data<Open311>,
    pool: web::Data<PgPool>,
    tree: web::Data<Tree>,
    clock: web::Data<Clock>,
) -> HttpResponse {
    answer(&ext, |format| async move {
        let p = Params::query(&req)?;
        o.check_jurisdiction(&tree, p.get("jurisdiction_id"))?;
        let f = filter(&p, &pool, clock.now()).await?;
        let items = fetch(&pool, &tree, &f).await?;
        Ok(respond(
            format,
            StatusCode::OK,
            "service_requests",
            &V::List("request", items),
        ))
    })
    .await
}

/// GET requests/{id}.{format}: a request in a public category; any other is not
/// found, like an unknown id.
#[utoipa::path(
    get, path = "/open311/v2/requests/{id}.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("jurisdiction_id" = Option<String>, Query, description = "xinfang or a county code"), ("id" = String, Path, description = "service_request_id")),
    responses((status = 200, description = "One request in a public category"), (status = 404, description = "Unknown resource or foreign jurisdiction_id: [{code, description}]"), (status = 429, description = "Over this client's budget: [{code, description}], with Retry-After"))
)]
pub(super) async fn one(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    o: web::Data<Open311>,
    pool: web::Data<PgPool>,
    tree: web::Data<Tree>,
) -> HttpResponse {
    let (id, ext) = path.into_inner();
    answer(&ext, |format| async move {
        let p = Params::query(&req)?;
        o.check_jurisdiction(&tree, p.get("jurisdiction_id"))?;
        let f = Filter {
            ids: Some(vec![id.clone()]),
            ..Filter::default()
        };
        let items = fetch(&pool, &tree, &f).await?;
        if items.is_empty() {
            return Err(Fail::not_found(format!(
                "service_request_id {}: not found",
                clip(&id, 40)
            )));
        }
        Ok(respond(
            format,
            StatusCode::OK,
            "service_requests",
            &V::List("request", items),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_statuses_and_fields() {
        assert_eq!(open311_status("not_accepted"), "closed");
        assert_eq!(open311_status("closed"), "closed");
        assert_eq!(open311_status("replied"), "open");
        assert_eq!(status_notes("accepted"), "已受理，正在办理");
        assert_eq!(open311_field("summary"), "description");
        assert_eq!(open311_field("petitioners[0].phone"), "phone");
        let p = xf_http::Problem::validation(vec![xf_http::FieldError::new(
            "summary",
            "must not be empty",
        )]);
        let f = from_problem(p);
        assert_eq!(f.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            f.descriptions,
            vec!["description: must not be empty".to_owned()]
        );
    }
}
