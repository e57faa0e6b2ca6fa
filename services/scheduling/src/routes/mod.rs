//! HTTP: parse → load → domain → store → outbox. The published schedule is public;
//! every write needs a staff token whose jurisdiction covers the office (its tier and
//! below).

mod appointments;
mod duty;
mod follow_ups;
mod offices;
mod plans;
mod public;
mod sessions;

pub use offices::{OfficeBody, PersonBody};
pub use public::FeedCache;

use actix_web::web;
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use serde::Deserialize;
use utoipa::OpenApi;
use xf_auth::{Claims, roles};
use xf_http::openapi::BearerSecurity;
use xf_http::{FieldError, Problem};

use crate::domain::{Issue, Refusal};
use crate::store::offices::OfficeRow;

#[derive(OpenApi)]
#[openapi(
    info(title = "Xinfang scheduling", description = "Reception rules, annual plans, the published reception schedule (JSON and iCalendar), swaps, the duty roster and log, appointments (约访) and follow-up visits (回访)."),
    paths(
        public::offices, public::office, public::rules, public::recurrence, public::sessions,
        public::calendar, public::leader_calendar,
        offices::put_office, offices::put_rule,
        plans::generate, plans::get_plan, plans::publish, plans::apply,
        sessions::swap, sessions::swaps, sessions::cancel, sessions::move_session, sessions::add_case,
        sessions::get_session,
        duty::roster, duty::put_day, duty::coverage, duty::append_log, duty::log, duty::append_handover,
        duty::handovers,
        appointments::book, appointments::of_session, appointments::get, appointments::cancel,
        appointments::reschedule,
        follow_ups::of_case, follow_ups::list, follow_ups::assign, follow_ups::complete, follow_ups::sweep
    ),
    components(schemas(
        crate::domain::rules::RuleInput, crate::domain::rules::SlotInput, crate::domain::roster::DutySpec,
        crate::domain::plan::Violation, crate::domain::roster::Quality, crate::domain::follow_up::Outcome,
        crate::domain::follow_up::Satisfaction,
        offices::OfficeBody, offices::PersonBody, plans::PublishBody, sessions::SwapBody, sessions::CancelBody,
        sessions::MoveBody, sessions::CaseBody, duty::DayBody, duty::LogBody, duty::HandoverBody,
        appointments::BookBody, appointments::RescheduleBody, follow_ups::AssignBody
    )),
    modifiers(&BearerSecurity)
)]
pub struct ApiDoc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    xf_app::openapi::route::<ApiDoc>(cfg);
    cfg.route("/v1/offices", web::get().to(public::offices))
        .route("/v1/offices/{office}", web::get().to(public::office))
        .route("/v1/offices/{office}", web::put().to(offices::put_office))
        .route(
            "/v1/offices/{office}/reception-rules",
            web::get().to(public::rules),
        )
        .route(
            "/v1/offices/{office}/reception-rules/{rule}",
            web::put().to(offices::put_rule),
        )
        .route(
            "/v1/offices/{office}/reception-rules/{rule}/recurrence.ics",
            web::get().to(public::recurrence),
        )
        .route(
            "/v1/offices/{office}/reception-sessions",
            web::get().to(public::sessions),
        )
        .route(
            "/v1/offices/{office}/reception-calendar.ics",
            web::get().to(public::calendar),
        )
        .route(
            "/v1/offices/{office}/leaders/{leader}/reception-calendar.ics",
            web::get().to(public::leader_calendar),
        )
        .route(
            "/v1/offices/{office}/plans/{year}",
            web::get().to(plans::get_plan),
        )
        .route(
            "/v1/offices/{office}/plans/{year}/generate",
            web::post().to(plans::generate),
        )
        .route(
            "/v1/offices/{office}/plans/{year}/publish",
            web::post().to(plans::publish),
        )
        .route(
            "/v1/offices/{office}/plans/{year}/proposal/apply",
            web::post().to(plans::apply),
        )
        .route("/v1/offices/{office}/swaps", web::post().to(sessions::swap))
        .route("/v1/offices/{office}/swaps", web::get().to(sessions::swaps))
        .route("/v1/sessions/{id}", web::get().to(sessions::get_session))
        .route("/v1/sessions/{id}/cancel", web::post().to(sessions::cancel))
        .route(
            "/v1/sessions/{id}/move",
            web::post().to(sessions::move_session),
        )
        .route(
            "/v1/sessions/{id}/cases",
            web::post().to(sessions::add_case),
        )
        .route(
            "/v1/sessions/{id}/appointments",
            web::post().to(appointments::book),
        )
        .route(
            "/v1/sessions/{id}/appointments",
            web::get().to(appointments::of_session),
        )
        .route("/v1/appointments/{id}", web::get().to(appointments::get))
        .route(
            "/v1/appointments/{id}/cancel",
            web::post().to(appointments::cancel),
        )
        .route(
            "/v1/appointments/{id}/reschedule",
            web::post().to(appointments::reschedule),
        )
        .route(
            "/v1/offices/{office}/duty-roster",
            web::get().to(duty::roster),
        )
        .route(
            "/v1/offices/{office}/duty-roster/coverage",
            web::get().to(duty::coverage),
        )
        .route(
            "/v1/offices/{office}/duty-roster/{date}",
            web::put().to(duty::put_day),
        )
        .route(
            "/v1/offices/{office}/duty-log",
            web::post().to(duty::append_log),
        )
        .route("/v1/offices/{office}/duty-log", web::get().to(duty::log))
        .route(
            "/v1/offices/{office}/handovers",
            web::post().to(duty::append_handover),
        )
        .route(
            "/v1/offices/{office}/handovers",
            web::get().to(duty::handovers),
        )
        .route(
            "/v1/cases/{id}/follow-ups",
            web::get().to(follow_ups::of_case),
        )
        .route("/v1/follow-ups", web::get().to(follow_ups::list))
        .route(
            "/v1/follow-ups/{id}/assign",
            web::post().to(follow_ups::assign),
        )
        .route(
            "/v1/follow-ups/{id}/complete",
            web::post().to(follow_ups::complete),
        )
        .route("/v1/admin/sweep", web::post().to(follow_ups::sweep));
}

/// Who keeps calendars: schedulers and administrators.
const KEEPERS: &[&str] = &[roles::SCHEDULER, roles::ADMIN];
/// Who works with sessions, appointments and the duty log: keepers, reception staff,
/// leaders.
const STAFF: &[&str] = &[
    roles::SCHEDULER,
    roles::ADMIN,
    roles::REGISTRAR,
    roles::LEADER,
    roles::HANDLER,
];

/// 403 unless the user has one of `roles` and their jurisdiction covers the office.
fn require_office(user: &Claims, office: &OfficeRow, roles: &[&str]) -> Result<(), Problem> {
    user.require_any_role(roles)?;
    if user.covers(&office.jurisdiction_code) {
        Ok(())
    } else {
        Err(Problem::forbidden(
            "the office lies outside your jurisdiction",
        ))
    }
}

fn db(e: sqlx::Error) -> Problem {
    xf_store::problem(&e)
}

fn issues(v: Vec<Issue>) -> Problem {
    Problem::validation(
        v.into_iter()
            .map(|i| FieldError::new(i.field, i.message))
            .collect(),
    )
}

/// A refusal as problem+json; a rule's refusal names the rule and the `field`.
fn refused(r: Refusal, field: &str) -> Problem {
    match r {
        Refusal::State(why) => Problem::conflict(why),
        Refusal::Rule { rule, detail } => Problem::conflict(format!("rule {rule}: {detail}"))
            .field(field, format!("{rule}: {detail}")),
        Refusal::Invalid(v) => issues(v),
        Refusal::Forbidden(why) => Problem::forbidden(why),
    }
}

async fn load_office<'e, E: sqlx::PgExecutor<'e>>(ex: E, id: &str) -> Result<OfficeRow, Problem> {
    crate::store::offices::office(ex, id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("office"))
}

/// Whether the caller sees a case here: never the accused unit (R13), whatever its
/// roles; otherwise whoever the shared rule admits (the lead and assisting units,
/// overseers in scope) and the office staff whose jurisdiction covers where the matter
/// arose or where it is handled.
fn sees(user: &Claims, case: &crate::store::CaseRow) -> bool {
    let c = case.access();
    if xf_access::is_excluded(user, c.excluded_unit) {
        return false;
    }
    xf_access::see(user, &c).is_ok() || xf_access::in_scope(user, &c)
}

/// A case the caller sees, or 404 `case` (a case hidden from the caller does not exist
/// for it).
async fn visible_case<'e, E: sqlx::PgExecutor<'e>>(
    ex: E,
    user: &Claims,
    id: uuid::Uuid,
) -> Result<crate::store::CaseRow, Problem> {
    match crate::store::case(ex, id).await.map_err(db)? {
        Some(c) if sees(user, &c) => Ok(c),
        _ => Err(Problem::not_found("case")),
    }
}

/// A case scheduling knows (from `CaseRegistered`/`CaseDispatched`) that the caller
/// sees; otherwise 422 naming `case_id` (an accused unit is told it is unknown).
async fn case_in_scope(
    tx: &mut sqlx::PgConnection,
    user: &Claims,
    id: uuid::Uuid,
) -> Result<crate::store::CaseRow, Problem> {
    let case = crate::store::case(&mut *tx, id).await.map_err(db)?;
    match case {
        None => Err(Problem::validation(vec![FieldError::new(
            "case_id",
            "no such case known to scheduling",
        )])),
        Some(c) if xf_access::is_excluded(user, c.excluded_unit_id.as_deref()) => {
            Err(Problem::validation(vec![FieldError::new(
                "case_id",
                "no such case known to scheduling",
            )]))
        }
        Some(c) if !sees(user, &c) => Err(Problem::validation(vec![FieldError::new(
            "case_id",
            "the case lies outside your jurisdiction",
        )])),
        Some(c) => Ok(c),
    }
}

/// A date range from the query: `from`/`to` as YYYY-MM-DD; defaults given.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Range {
    /// First day (YYYY-MM-DD); today by default.
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), at most 400 days after `from`.
    pub to: Option<String>,
}

impl Range {
    fn parse(
        &self,
        default_from: NaiveDate,
        default_days: u64,
    ) -> Result<(NaiveDate, NaiveDate), Problem> {
        let mut e = Vec::new();
        let day = |v: &Option<String>, f: &str, e: &mut Vec<FieldError>| {
            v.as_ref()
                .and_then(|s| match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                    Ok(d) => Some(d),
                    Err(_) => {
                        e.push(FieldError::new(f, "must be a date YYYY-MM-DD"));
                        None
                    }
                })
        };
        let from = day(&self.from, "from", &mut e).unwrap_or(default_from);
        let to = day(&self.to, "to", &mut e).unwrap_or_else(|| {
            from.checked_add_days(Days::new(default_days))
                .unwrap_or(from)
        });
        if e.is_empty() {
            if to < from {
                e.push(FieldError::new("to", "must not be before from"));
            } else if (to - from).num_days() > 400 {
                e.push(FieldError::new("to", "at most 400 days after from"));
            }
        }
        if e.is_empty() {
            Ok((from, to))
        } else {
            Err(Problem::validation(e))
        }
    }
}

/// Today in Asia/Shanghai by the service's clock.
fn today(clock: &xf_app::Clock) -> NaiveDate {
    local_now(clock.now()).date()
}

/// The Asia/Shanghai wall-clock time of an instant.
fn local_now(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&Shanghai).naive_local()
}

/// A local Asia/Shanghai day and time as an instant.
fn instant(d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
    let local = d.and_time(t);
    Shanghai
        .from_local_datetime(&local)
        .earliest()
        .map(|x| x.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&(local - chrono::Duration::hours(8))))
}

fn hhmm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// The JSON of a session (public: an official's name and post, no personal data).
fn session_json(s: &crate::store::sessions::SessionRow) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "date": s.date,
        "start": hhmm(s.starts_at),
        "end": hhmm(s.ends_at),
        "rule_id": s.rule_id,
        "post": s.post,
        "leader": s.leader_name.clone().unwrap_or_else(|| s.leader_id.clone()),
        "leader_id": s.leader_id,
        "place": s.place,
        "form": s.form,
        "form_label": s.form().label(),
        "status": s.status,
        "sequence": s.sequence,
        "provisional": s.provisional,
        "capacity": s.capacity,
        "places_left": (i64::from(s.capacity) - s.booked).max(0),
    })
}
