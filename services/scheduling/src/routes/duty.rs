//! The duty roster, its coverage and quality, the append-only duty log and handovers
//! (R27).

use actix_web::{HttpResponse, web};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_calendar::OfficialCalendar;
use xf_http::{FieldError, Problem, ValidJson};

use super::{KEEPERS, Range, STAFF, db, load_office, local_now, require_office, today};
use crate::domain::roster::{self, Visit};
use crate::store;

/// Who is on duty each working day.
#[utoipa::path(get, path = "/v1/offices/{office}/duty-roster", params(("office" = String, Path), Range),
    responses((status = 200, description = "items: date, leaders, staff"), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn roster(
    user: Authenticated,
    path: web::Path<String>,
    q: web::Query<Range>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let (from, to) = q.parse(today(&clock), 30)?;
    let o = load_office(pool.get_ref(), &path).await?;
    require_office(&user.0, &o, STAFF)?;
    let days = store::duty::roster(pool.get_ref(), &o.id, from, to)
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"office": o.id, "from": from, "to": to, "items": days})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DayBody {
    #[serde(default)]
    pub leaders: Vec<String>,
    #[serde(default)]
    pub staff: Vec<String>,
}

/// Sets one day of the roster by hand (regenerating the plan keeps it).
#[utoipa::path(put, path = "/v1/offices/{office}/duty-roster/{date}", request_body = DayBody,
    params(("office" = String, Path), ("date" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 200, description = "Saved"), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn put_day(
    user: Authenticated,
    path: web::Path<(String, String)>,
    body: ValidJson<DayBody>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let (office, date) = path.into_inner();
    let b = body.into_inner();
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|_| {
        Problem::validation(vec![FieldError::new("date", "must be a date YYYY-MM-DD")])
    })?;
    let mut tx = pool.begin().await.map_err(db)?;
    let o = store::offices::lock(&mut tx, &office)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("office"))?;
    require_office(&user.0, &o, KEEPERS)?;
    let people = store::offices::people(&mut *tx, &office)
        .await
        .map_err(db)?;
    let mut e = Vec::new();
    for (i, l) in b.leaders.iter().enumerate() {
        match people.iter().find(|p| &p.id == l) {
            Some(p) if p.role == "leader" => {}
            Some(_) => e.push(FieldError::new(
                format!("leaders[{i}]"),
                format!("{l} is not a leader"),
            )),
            None => e.push(FieldError::new(
                format!("leaders[{i}]"),
                format!("unknown person {l}"),
            )),
        }
    }
    for (i, s) in b.staff.iter().enumerate() {
        if !people.iter().any(|p| &p.id == s) {
            e.push(FieldError::new(
                format!("staff[{i}]"),
                format!("unknown person {s}"),
            ));
        }
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    store::duty::set_day(&mut tx, &office, date, &b.leaders, &b.staff)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"date": date, "leaders": b.leaders, "staff": b.staff})))
}

/// The coverage check and quality score over a range: working days lacking a leader or
/// a staff member, visits received by fewer than two staff, the leaders' load.
#[utoipa::path(get, path = "/v1/offices/{office}/duty-roster/coverage", params(("office" = String, Path), Range),
    responses((status = 200, description = "gaps and quality"), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn coverage(
    user: Authenticated,
    path: web::Path<String>,
    q: web::Query<Range>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let t = today(&clock);
    let (from, to) = q.parse(t.with_day(1).unwrap_or(t), 30)?;
    let o = load_office(pool.get_ref(), &path).await?;
    require_office(&user.0, &o, STAFF)?;
    let people: Vec<_> = store::offices::people(pool.get_ref(), &o.id)
        .await
        .map_err(db)?
        .iter()
        .map(store::offices::PersonRow::person)
        .collect();
    let days = store::duty::roster(pool.get_ref(), &o.id, from, to)
        .await
        .map_err(db)?;
    let sessions = store::sessions::published(pool.get_ref(), &o.id, from, to, None)
        .await
        .map_err(db)?;
    let leaders: Vec<&str> = sessions
        .iter()
        .filter(|s| s.status == "scheduled")
        .map(|s| s.leader_id.as_str())
        .collect();
    let visits: Vec<Visit> = store::duty::log(pool.get_ref(), &o.id, from, to)
        .await
        .map_err(db)?
        .into_iter()
        .filter(|l| l.kind == "visit")
        .map(|l| Visit {
            id: l.id,
            date: l.date,
            received_by: l.received_by.len(),
        })
        .collect();
    let cal = OfficialCalendar;
    let gaps = roster::gaps(&people, &days, from, to, &cal);
    let quality = roster::quality(&people, &days, &leaders, &visits, from, to, &cal);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "office": o.id, "from": from, "to": to, "gaps": gaps, "quality": quality,
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogBody {
    /// The duty day (YYYY-MM-DD); today by default.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// visit | call | letter | superior | dispute | other
    pub kind: String,
    /// The matter's category code (no free text).
    #[serde(default)]
    pub category: Option<String>,
    /// The registered case, where there is one.
    #[serde(default)]
    pub case_id: Option<Uuid>,
    #[serde(default = "one")]
    pub headcount: i32,
    /// Ids of the office's people who received it (at least two for a visit, R27).
    pub received_by: Vec<String>,
    /// answered_on_spot | registered | referred | appointment | recorded
    pub outcome: String,
}

fn one() -> i32 {
    1
}

const LOG_KINDS: [&str; 6] = ["visit", "call", "letter", "superior", "dispute", "other"];
const OUTCOMES: [&str; 5] = [
    "answered_on_spot",
    "registered",
    "referred",
    "appointment",
    "recorded",
];

/// Appends to the duty log (坐班日志). The log is append-only: no entry is ever
/// changed or removed. A visit received by fewer than two staff is recorded and shows
/// in the coverage check.
#[utoipa::path(post, path = "/v1/offices/{office}/duty-log", request_body = LogBody, params(("office" = String, Path)),
    responses((status = 201, description = "Appended: id, thin (fewer than two receivers)"), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn append_log(
    user: Authenticated,
    path: web::Path<String>,
    body: ValidJson<LogBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let o = load_office(pool.get_ref(), &path).await?;
    require_office(&user.0, &o, STAFF)?;
    let now = clock.now();
    let date = b.date.unwrap_or_else(|| local_now(now).date());
    let people = store::offices::people(pool.get_ref(), &o.id)
        .await
        .map_err(db)?;
    let mut e = Vec::new();
    if !LOG_KINDS.contains(&b.kind.as_str()) {
        e.push(FieldError::new(
            "kind",
            format!("must be one of {}", LOG_KINDS.join(", ")),
        ));
    }
    if !OUTCOMES.contains(&b.outcome.as_str()) {
        e.push(FieldError::new(
            "outcome",
            format!("must be one of {}", OUTCOMES.join(", ")),
        ));
    }
    if let Some(c) = &b.category
        && (c.is_empty() || c.len() > 40 || !c.bytes().all(|x| x.is_ascii_lowercase() || x == b'_'))
    {
        e.push(FieldError::new("category", "a category code: a-z and _"));
    }
    if !(1..=10_000).contains(&b.headcount) {
        e.push(FieldError::new("headcount", "must be 1 to 10000"));
    }
    if b.received_by.is_empty() {
        e.push(FieldError::new("received_by", "must name who received it"));
    }
    for (i, r) in b.received_by.iter().enumerate() {
        if !people.iter().any(|p| &p.id == r) {
            e.push(FieldError::new(
                format!("received_by[{i}]"),
                format!("unknown person {r} in this office"),
            ));
        }
    }
    if date > local_now(now).date() {
        e.push(FieldError::new("date", "must not be in the future"));
    }
    if let Some(c) = b.case_id
        && store::case(pool.get_ref(), c).await.map_err(db)?.is_none()
    {
        e.push(FieldError::new(
            "case_id",
            "no such case known to scheduling",
        ));
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    let id = store::duty::append_log(
        pool.get_ref(),
        &store::duty::LogEntry {
            office: &o.id,
            date,
            at: now,
            kind: &b.kind,
            category: b.category.as_deref(),
            case_id: b.case_id,
            headcount: b.headcount,
            received_by: &b.received_by,
            outcome: &b.outcome,
            by: &user.0.sub,
        },
    )
    .await
    .map_err(db)?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": id, "date": date, "thin": b.kind == "visit" && b.received_by.len() < 2,
    })))
}

/// The duty log of a range, in order.
#[utoipa::path(get, path = "/v1/offices/{office}/duty-log", params(("office" = String, Path), Range),
    responses((status = 200, description = "items"), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn log(
    user: Authenticated,
    path: web::Path<String>,
    q: web::Query<Range>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let (from, to) = q.parse(today(&clock), 0)?;
    let o = load_office(pool.get_ref(), &path).await?;
    require_office(&user.0, &o, STAFF)?;
    let rows = store::duty::log(pool.get_ref(), &o.id, from, to)
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": rows})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// Who hands over and who takes over (the office's people).
    pub from: String,
    pub to: String,
    /// The open matters passed on.
    #[serde(default)]
    pub open_case_ids: Vec<Uuid>,
}

/// Records a handover (交接班) with the open matters passed on; append-only.
#[utoipa::path(post, path = "/v1/offices/{office}/handovers", request_body = HandoverBody, params(("office" = String, Path)),
    responses((status = 201, description = "Recorded"), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn append_handover(
    user: Authenticated,
    path: web::Path<String>,
    body: ValidJson<HandoverBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let o = load_office(pool.get_ref(), &path).await?;
    require_office(&user.0, &o, STAFF)?;
    let now = clock.now();
    let date = b.date.unwrap_or_else(|| local_now(now).date());
    let people = store::offices::people(pool.get_ref(), &o.id)
        .await
        .map_err(db)?;
    let mut e = Vec::new();
    for (f, v) in [("from", &b.from), ("to", &b.to)] {
        if !people.iter().any(|p| &p.id == v) {
            e.push(FieldError::new(
                f,
                format!("unknown person {v} in this office"),
            ));
        }
    }
    if b.from == b.to {
        e.push(FieldError::new("to", "must be someone else"));
    }
    for (i, c) in b.open_case_ids.iter().enumerate() {
        if store::case(pool.get_ref(), *c).await.map_err(db)?.is_none() {
            e.push(FieldError::new(
                format!("open_case_ids[{i}]"),
                "no such case known to scheduling",
            ));
        }
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    let id = store::duty::append_handover(
        pool.get_ref(),
        &store::duty::Handover {
            office: &o.id,
            date,
            at: now,
            from: &b.from,
            to: &b.to,
            open_cases: &b.open_case_ids,
            by: &user.0.sub,
        },
    )
    .await
    .map_err(db)?;
    Ok(HttpResponse::Created()
        .json(serde_json::json!({"id": id, "date": date, "open_cases": b.open_case_ids.len()})))
}

/// Handovers of a range.
#[utoipa::path(get, path = "/v1/offices/{office}/handovers", params(("office" = String, Path), Range),
    responses((status = 200, description = "items"), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn handovers(
    user: Authenticated,
    path: web::Path<String>,
    q: web::Query<Range>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let (from, to) = q.parse(today(&clock), 0)?;
    let o = load_office(pool.get_ref(), &path).await?;
    require_office(&user.0, &o, STAFF)?;
    let rows = store::duty::handovers(pool.get_ref(), &o.id, from, to)
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": rows})))
}
