//! The public, read-only side: offices, their rules in force, the published sessions as
//! JSON and as iCalendar feeds (per office and per leader), a rule as a recurrence.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Days, NaiveDate};
use serde::Deserialize;
use sqlx::PgPool;
use xf_app::Clock;
use xf_calendar::OfficialCalendar;
use xf_http::{FieldError, Problem};

use super::{Range, db, load_office, session_json, today};
use crate::domain::ics;
use crate::store;

fn office_json(o: &store::offices::OfficeRow) -> serde_json::Value {
    serde_json::json!({
        "id": o.id,
        "name": o.name,
        "jurisdiction_code": o.jurisdiction_code,
        "kind": o.kind,
        "place": o.place,
        "notice_days": o.notice_days,
        "follow_up_hours": o.follow_up_hours,
        "calendar": format!("/v1/offices/{}/reception-calendar.ics", o.id),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OfficesQuery {
    /// Only offices whose jurisdiction code starts with this one.
    pub jurisdiction: Option<String>,
}

/// The offices with a reception calendar.
#[utoipa::path(get, path = "/v1/offices", params(OfficesQuery),
    responses((status = 200, description = "items: id, name, jurisdiction_code, kind, place, notice_days, follow_up_hours, calendar"), (status = 422)))]
pub async fn offices(
    q: web::Query<OfficesQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    if let Some(j) = &q.jurisdiction
        && xf_jurisdiction::Code::parse(j).is_err()
    {
        return Err(Problem::validation(vec![FieldError::new(
            "jurisdiction",
            "must be a 6, 9 or 12 digit jurisdiction code",
        )]));
    }
    let rows = store::offices::offices(pool.get_ref(), q.jurisdiction.as_deref())
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "items": rows.iter().map(office_json).collect::<Vec<_>>()
    })))
}

/// One office with its leaders (name and post: what the published schedule shows).
#[utoipa::path(get, path = "/v1/offices/{office}", params(("office" = String, Path)),
    responses((status = 200, description = "The office and its leaders"), (status = 404)))]
pub async fn office(
    path: web::Path<String>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let o = load_office(pool.get_ref(), &path).await?;
    let people = store::offices::people(pool.get_ref(), &o.id)
        .await
        .map_err(db)?;
    let mut v = office_json(&o);
    v["leaders"] = people
        .iter()
        .filter(|p| p.role == "leader")
        .map(|p| serde_json::json!({"id": p.id, "name": p.name, "post": p.post}))
        .collect();
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OnQuery {
    /// The day the rules are in force (YYYY-MM-DD); today by default.
    pub on: Option<String>,
}

/// The rules in force: id, version, kind, parameters, holiday policy, post, leaders,
/// slots, place, form, and the rule as an RFC 5545/7529 recurrence.
#[utoipa::path(get, path = "/v1/offices/{office}/reception-rules", params(("office" = String, Path), OnQuery),
    responses((status = 200, description = "items: the rules in force"), (status = 404), (status = 422)))]
pub async fn rules(
    path: web::Path<String>,
    q: web::Query<OnQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let on = match &q.on {
        None => today(&clock),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            Problem::validation(vec![FieldError::new("on", "must be a date YYYY-MM-DD")])
        })?,
    };
    let o = load_office(pool.get_ref(), &path).await?;
    let mut conn = pool.acquire().await.map_err(db)?;
    let (_, versions) = store::offices::model(&mut conn, &o.id).await.map_err(db)?;
    let items: Vec<serde_json::Value> = versions
        .iter()
        .filter(|v| v.effective_from <= on && v.effective_to.is_none_or(|t| t > on))
        .map(|v| {
            let s = &v.spec;
            serde_json::json!({
                "id": v.id,
                "version": v.version,
                "effective_from": v.effective_from,
                "effective_to": v.effective_to,
                "kind": s.kind.name(),
                "parameters": s.kind.parameters(),
                "holiday_policy": s.holiday_policy.as_str(),
                "post": s.post,
                "leaders": s.leaders,
                "rotation": s.leaders.len() > 1,
                "slots": s.slots.iter().map(|x| serde_json::json!({"start": super::hhmm(x.start), "end": super::hhmm(x.end)})).collect::<Vec<_>>(),
                "place": s.place,
                "form": s.form.as_str(),
                "responsibilities": s.responsibilities,
                "capacity": s.capacity,
                "yield_to": s.yield_to,
                "rrule": s.kind.rrule(),
                "recurrence": s.kind.rrule().map(|_| format!("/v1/offices/{}/reception-rules/{}/recurrence.ics", o.id, v.id)),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"office": o.id, "on": on, "items": items})))
}

fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag)
}

fn ics_response(body: actix_web::web::Bytes, tag: String, req: &HttpRequest) -> HttpResponse {
    if not_modified(req, &tag) {
        return HttpResponse::NotModified()
            .insert_header((actix_web::http::header::ETAG, tag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((actix_web::http::header::ETAG, tag))
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=300",
        ))
        .body(body)
}

/// FNV-1a, for an ETag of a rendered body.
fn fxhash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Rendered feeds, per office, leader and range, kept while what they depend on (the
/// sessions' count and SEQUENCEs, the office's last change) stays the same: a feed
/// request costs one indexed count until the schedule changes.
#[derive(Default)]
pub struct FeedCache {
    feeds: std::sync::Mutex<HashMap<FeedKey, (FeedVersion, web::Bytes)>>,
}

type FeedKey = (String, Option<String>, NaiveDate, NaiveDate);
type FeedVersion = (i64, i64, i64);

/// Cached feeds at most; past that the cache starts again.
const FEEDS_KEPT: usize = 2000;

impl FeedCache {
    fn get(&self, key: &FeedKey, version: FeedVersion) -> Option<web::Bytes> {
        let feeds = self
            .feeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        feeds
            .get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, b)| b.clone())
    }
    fn put(&self, key: FeedKey, version: FeedVersion, body: web::Bytes) {
        let mut feeds = self
            .feeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if feeds.len() >= FEEDS_KEPT {
            feeds.clear();
        }
        feeds.insert(key, (version, body));
    }
}

/// One rule as a recurring event (RFC 5545, RFC 7529 `RSCALE=CHINESE` for lunar
/// days) over a year from `from`, with EXDATE/RDATE for the days the holiday policy
/// skips or moves. The expanded calendar stays the default feed.
#[utoipa::path(get, path = "/v1/offices/{office}/reception-rules/{rule}/recurrence.ics",
    params(("office" = String, Path), ("rule" = String, Path), Range),
    responses((status = 200, description = "text/calendar"), (status = 404), (status = 422)))]
pub async fn recurrence(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<Range>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let (office, rule) = path.into_inner();
    let t = today(&clock);
    let (from, to) = q.parse(t, 365)?;
    let o = load_office(pool.get_ref(), &office).await?;
    let mut conn = pool.acquire().await.map_err(db)?;
    let (_, versions) = store::offices::model(&mut conn, &o.id).await.map_err(db)?;
    let v = versions
        .iter()
        .rfind(|v| {
            v.id == rule && v.effective_from <= to && v.effective_to.is_none_or(|e| e > from)
        })
        .ok_or_else(|| Problem::not_found("rule"))?;
    let Some(rrule) = v.spec.kind.rrule() else {
        return Err(Problem::conflict(
            "a goal names no days and has no recurrence",
        ));
    };
    let from = from.max(v.effective_from);
    let to = v
        .effective_to
        .and_then(|e| e.pred_opt())
        .map_or(to, |e| e.min(to));
    let cal = OfficialCalendar;
    let occ = v
        .spec
        .kind
        .occurrences(v.spec.holiday_policy, from, to, &cal);
    let (ex, rd) = v
        .spec
        .kind
        .exceptions(v.spec.holiday_policy, from, to, &cal);
    let first = occ
        .first()
        .map_or(from, |o| o.date.min(ex.first().copied().unwrap_or(o.date)));
    let stamp = clock.now();
    let summary = format!("{} {}", v.spec.post, v.spec.form.label());
    let items: Vec<ics::Recurrence<'_>> = v
        .spec
        .slots
        .iter()
        .enumerate()
        .map(|(i, s)| ics::Recurrence {
            uid: format!("rule-{}-{}-{}-{i}@xinfang", o.id, v.id, v.version),
            first,
            start: s.start,
            end: s.end,
            until: to,
            rrule: &rrule,
            exdates: &ex,
            rdates: &rd,
            summary: &summary,
            location: &v.spec.place,
            stamp,
        })
        .collect();
    let body = ics::recurrence(&format!("{} {}", o.name, v.id), &items);
    let tag = format!("\"{:016x}\"", fxhash(body.as_bytes()));
    Ok(ics_response(body.into(), tag, &req))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SessionsQuery {
    /// First day (YYYY-MM-DD); today by default.
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD); 30 days after `from` by default, at most 400.
    pub to: Option<String>,
    /// Only this leader's sessions.
    pub leader: Option<String>,
}

/// The published sessions of an office, in date order.
#[utoipa::path(get, path = "/v1/offices/{office}/reception-sessions", params(("office" = String, Path), SessionsQuery),
    responses((status = 200, description = "items: date, start, end, rule_id, post, leader, leader_id, place, form, status, sequence, provisional, places_left"), (status = 404), (status = 422)))]
pub async fn sessions(
    path: web::Path<String>,
    q: web::Query<SessionsQuery>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let range = Range {
        from: q.from.clone(),
        to: q.to.clone(),
    };
    let (from, to) = range.parse(today(&clock), 30)?;
    let o = load_office(pool.get_ref(), &path).await?;
    let rows = store::sessions::published(pool.get_ref(), &o.id, from, to, q.leader.as_deref())
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "office": o.id,
        "name": o.name,
        "from": from,
        "to": to,
        "items": rows.iter().map(session_json).collect::<Vec<_>>(),
    })))
}

struct FeedRequest<'a> {
    office: &'a str,
    leader: Option<&'a str>,
    range: &'a Range,
}

async fn feed(
    req: &HttpRequest,
    pool: &PgPool,
    clock: &Clock,
    cache: &FeedCache,
    f: FeedRequest<'_>,
) -> Result<HttpResponse, Problem> {
    let t = today(clock);
    let start = t.checked_sub_days(Days::new(31)).unwrap_or(t);
    let (from, to) = f.range.parse(start, 400)?;
    let o = load_office(pool, f.office).await?;
    let (count, sequences) = store::sessions::feed_version(pool, &o.id, from, to, f.leader)
        .await
        .map_err(db)?;
    let version = (count, sequences, o.updated_at.timestamp_micros());
    let tag = format!("\"{count}.{sequences}.{}\"", version.2);
    if not_modified(req, &tag) {
        return Ok(ics_response(web::Bytes::new(), tag, req));
    }
    let key: FeedKey = (o.id.clone(), f.leader.map(str::to_owned), from, to);
    if let Some(body) = cache.get(&key, version) {
        return Ok(ics_response(body, tag, req));
    }
    let rows = store::sessions::published(pool, &o.id, from, to, f.leader)
        .await
        .map_err(db)?;
    let summaries: Vec<String> = rows
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s.post,
                s.leader_name.as_deref().unwrap_or(&s.leader_id),
                s.form().label()
            )
        })
        .collect();
    let events: Vec<ics::Event<'_>> = rows
        .iter()
        .zip(&summaries)
        .map(|(s, summary)| ics::Event {
            uid: format!("{}@xinfang", s.id),
            sequence: s.sequence,
            date: s.date,
            start: s.starts_at,
            end: s.ends_at,
            summary,
            location: &s.place,
            description: if s.provisional {
                "节假日安排未公布，日期为暂定"
            } else {
                ""
            },
            cancelled: s.status == "cancelled",
            updated_at: s.updated_at,
            categories: s.form().label(),
        })
        .collect();
    let name = match f.leader {
        Some(l) => format!(
            "{} {} 接访日历",
            o.name,
            rows.first()
                .and_then(|s| s.leader_name.clone())
                .unwrap_or_else(|| l.to_owned())
        ),
        None => format!("{} 接访日历", o.name),
    };
    let body = web::Bytes::from(ics::calendar(&name, &events));
    cache.put(key, version, body.clone());
    Ok(ics_response(body, tag, req))
}

/// The office's published sessions as an iCalendar feed (RFC 5545) to subscribe to:
/// one VEVENT per session, TZID Asia/Shanghai, stable UID, SEQUENCE, STATUS:CANCELLED
/// for cancelled sessions. From 31 days ago to a year ahead by default.
#[utoipa::path(get, path = "/v1/offices/{office}/reception-calendar.ics", params(("office" = String, Path), Range),
    responses((status = 200, description = "text/calendar"), (status = 304), (status = 404), (status = 422)))]
pub async fn calendar(
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<Range>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    cache: web::Data<FeedCache>,
) -> Result<HttpResponse, Problem> {
    let f = FeedRequest {
        office: &path,
        leader: None,
        range: &q,
    };
    feed(&req, &pool, &clock, &cache, f).await
}

/// One leader's published sessions as an iCalendar feed.
#[utoipa::path(get, path = "/v1/offices/{office}/leaders/{leader}/reception-calendar.ics",
    params(("office" = String, Path), ("leader" = String, Path), Range),
    responses((status = 200, description = "text/calendar"), (status = 304), (status = 404), (status = 422)))]
pub async fn leader_calendar(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<Range>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    cache: web::Data<FeedCache>,
) -> Result<HttpResponse, Problem> {
    let (office, leader) = path.into_inner();
    let people = store::offices::people(pool.get_ref(), &office)
        .await
        .map_err(db)?;
    if !people.iter().any(|p| p.id == leader && p.role == "leader") {
        load_office(pool.get_ref(), &office).await?;
        return Err(Problem::not_found("leader"));
    }
    let f = FeedRequest {
        office: &office,
        leader: Some(&leader),
        range: &q,
    };
    feed(&req, &pool, &clock, &cache, f).await
}
