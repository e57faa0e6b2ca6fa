//! Published sessions: swaps and substitutes (R24), cancelling and moving (their
//! appointments go with them), the cases a session carries (带案下访).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_bus::Outbox;
use xf_calendar::{HolidayCalendar, OfficialCalendar};
use xf_events::v1::{
    AppointmentCancelled, AppointmentMoveReason, AppointmentMoved, ReceptionSessionCancelled,
    ReceptionSessionChanged, ReceptionSessionScheduled, SessionChange,
};
use xf_events::{Envelope, Payload};
use xf_http::{FieldError, Problem, ValidJson};

use super::{
    KEEPERS, STAFF, case_in_scope, db, instant, load_office, local_now, parse_hhmm, refused,
    require_office, session_json,
};
use crate::domain::rules::Slot;
use crate::domain::session::{self, Command, Status};
use crate::domain::{Refusal, appointment};
use crate::store::offices::OfficeRow;
use crate::store::sessions::SessionRow;
use crate::store::{self};

fn envelope(o: &OfficeRow, subject: Uuid, now: DateTime<Utc>, p: Payload) -> Envelope {
    xf_events::envelope(
        subject,
        crate::SERVICE,
        xf_events::tier_of_code(&o.jurisdiction_code),
        &o.jurisdiction_code,
        now,
        p,
    )
}

fn seq(s: i32) -> u32 {
    u32::try_from(s).unwrap_or(0)
}

pub(super) fn scheduled_event(o: &OfficeRow, s: &SessionRow, now: DateTime<Utc>) -> Envelope {
    envelope(
        o,
        s.id,
        now,
        Payload::ReceptionSessionScheduled(ReceptionSessionScheduled {
            session_id: s.id.to_string(),
            office_id: o.id.clone(),
            office_jurisdiction_code: o.jurisdiction_code.clone(),
            rule_id: s.rule_id.clone(),
            starts_at: Some(xf_events::timestamp(instant(s.date, s.starts_at))),
            ends_at: Some(xf_events::timestamp(instant(s.date, s.ends_at))),
            post: s.post.clone(),
            leader_id: s.leader_id.clone(),
            form: s.form.clone(),
            sequence: seq(s.sequence),
            capacity: u32::try_from(s.capacity).unwrap_or(0),
        }),
    )
}

pub(super) fn changed_event(
    o: &OfficeRow,
    s: &SessionRow,
    change: SessionChange,
    previous_leader: &str,
    sequence: i32,
    now: DateTime<Utc>,
) -> Envelope {
    envelope(
        o,
        s.id,
        now,
        Payload::ReceptionSessionChanged(ReceptionSessionChanged {
            session_id: s.id.to_string(),
            office_id: o.id.clone(),
            change: change as i32,
            starts_at: Some(xf_events::timestamp(instant(s.date, s.starts_at))),
            ends_at: Some(xf_events::timestamp(instant(s.date, s.ends_at))),
            leader_id: s.leader_id.clone(),
            previous_leader_id: previous_leader.to_owned(),
            sequence: seq(sequence),
        }),
    )
}

pub(super) fn moved_event(
    o: &OfficeRow,
    case: Uuid,
    appointment: Uuid,
    from: Uuid,
    to: &SessionRow,
    reason: AppointmentMoveReason,
    now: DateTime<Utc>,
) -> Envelope {
    envelope(
        o,
        case,
        now,
        Payload::AppointmentMoved(AppointmentMoved {
            appointment_id: appointment.to_string(),
            from_session_id: from.to_string(),
            to_session_id: to.id.to_string(),
            starts_at: Some(xf_events::timestamp(instant(to.date, to.starts_at))),
            ends_at: Some(xf_events::timestamp(instant(to.date, to.ends_at))),
            place: to.place.clone(),
            reason: reason as i32,
            office_id: o.id.clone(),
        }),
    )
}

/// Cancels a session; each of its appointments moves to the office's next session
/// with a free place, or is cancelled with it. Returns the events.
pub(super) async fn cancel_with_appointments(
    tx: &mut PgConnection,
    o: &OfficeRow,
    s: &SessionRow,
    pin: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Envelope>, Problem> {
    let sequence = store::sessions::update(
        tx,
        &store::sessions::Update {
            cancel: true,
            pin,
            ..store::sessions::Update::new(s.id, now)
        },
    )
    .await
    .map_err(db)?;
    let mut events = Vec::new();
    let (mut moved, mut dropped) = (0u32, 0u32);
    for a in store::appointments::of_session(&mut *tx, s.id, true, None)
        .await
        .map_err(db)?
    {
        let state = appointment::State::parse(&a.state).unwrap_or(appointment::State::Cancelled);
        match store::sessions::next_with_room(tx, &o.id, (s.date, s.starts_at), s.id)
            .await
            .map_err(db)?
        {
            Some(next) if appointment::transition(state, appointment::Command::Move).is_ok() => {
                store::appointments::move_to(tx, a.id, next.id, now)
                    .await
                    .map_err(db)?;
                events.push(moved_event(
                    o,
                    a.case_id,
                    a.id,
                    s.id,
                    &next,
                    AppointmentMoveReason::SessionCancelled,
                    now,
                ));
                moved += 1;
            }
            _ => {
                store::appointments::cancel(tx, a.id, now)
                    .await
                    .map_err(db)?;
                events.push(envelope(
                    o,
                    a.case_id,
                    now,
                    Payload::AppointmentCancelled(AppointmentCancelled {
                        appointment_id: a.id.to_string(),
                        session_id: s.id.to_string(),
                        session_cancelled: true,
                        office_id: o.id.clone(),
                    }),
                ));
                dropped += 1;
            }
        }
    }
    events.insert(
        0,
        envelope(
            o,
            s.id,
            now,
            Payload::ReceptionSessionCancelled(ReceptionSessionCancelled {
                session_id: s.id.to_string(),
                office_id: o.id.clone(),
                sequence: seq(sequence),
                appointments_moved: moved,
                appointments_cancelled: dropped,
            }),
        ),
    );
    Ok(events)
}

/// The appointments of a session that moved: each is told its new time.
pub(super) async fn carry_appointments(
    tx: &mut PgConnection,
    o: &OfficeRow,
    s: &SessionRow,
    now: DateTime<Utc>,
) -> Result<Vec<Envelope>, Problem> {
    let list = store::appointments::of_session(&mut *tx, s.id, true, None)
        .await
        .map_err(db)?;
    Ok(list
        .iter()
        .map(|a| {
            moved_event(
                o,
                a.case_id,
                a.id,
                s.id,
                s,
                AppointmentMoveReason::SessionMoved,
                now,
            )
        })
        .collect())
}

/// Loads and locks a session with its office, for a change by a caller with one of
/// `roles` over the office.
pub(super) async fn load_for_change(
    tx: &mut PgConnection,
    user: &Authenticated,
    id: Uuid,
    roles: &[&str],
) -> Result<(OfficeRow, SessionRow), Problem> {
    let s = store::sessions::get(&mut *tx, id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("session"))?;
    let o = store::offices::lock(tx, &s.office_id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("office"))?;
    require_office(&user.0, &o, roles)?;
    let s = store::sessions::lock(tx, id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("session"))?;
    Ok((o, s))
}

fn status(s: &SessionRow) -> Status {
    Status::parse(&s.status).unwrap_or(Status::Cancelled)
}

/// Refuses a change to a session not published, cancelled or already begun.
fn changeable(
    s: &SessionRow,
    cmd: Command,
    now: DateTime<Utc>,
    field: &str,
) -> Result<(), Problem> {
    if !s.published {
        return Err(Problem::conflict(
            "the session is not published yet: change the draft's rules and generate again",
        ));
    }
    session::transition(status(s), cmd).map_err(|r| refused(r, field))?;
    session::check_future(s.date.and_time(s.starts_at), local_now(now))
        .map_err(|r| refused(r, field))
}

/// Whether `leader` is free at `slot` on `date` (other than in `except`).
async fn free(
    tx: &mut PgConnection,
    office: &str,
    leader: &str,
    date: NaiveDate,
    slot: Slot,
    except: &[Uuid],
) -> Result<bool, Problem> {
    let busy = store::sessions::leader_day(tx, office, leader, date, except)
        .await
        .map_err(db)?;
    Ok(!busy
        .iter()
        .any(|(a, b)| slot.overlaps(&Slot { start: *a, end: *b })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwapBody {
    /// The session of the leader who cannot attend.
    pub session_id: Uuid,
    /// swap (two leaders exchange sessions) | substitute (another leader stands in)
    pub kind: String,
    /// For a swap: the other leader's session.
    #[serde(default)]
    pub with_session_id: Option<Uuid>,
    /// For a substitute: the leader who stands in.
    #[serde(default)]
    pub substitute_id: Option<String>,
}

/// A swap or substitute (R24). Refused (409 naming the rule `notice_days`) when fewer
/// than the office's notice days remain before a session concerned; refused requests
/// are kept in the history too. An accepted one changes the published sessions, raises
/// their SEQUENCE and emits `ReceptionSessionChanged`.
#[utoipa::path(post, path = "/v1/offices/{office}/swaps", request_body = SwapBody, params(("office" = String, Path)),
    responses((status = 201, description = "Accepted: the changed sessions"), (status = 403), (status = 404), (status = 409, description = "notice_days, leader_overlap, session_past, cancelled"), (status = 422)),
    security(("bearer" = [])))]
pub async fn swap(
    user: Authenticated,
    path: web::Path<String>,
    body: ValidJson<SwapBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let office = path.into_inner();
    let b = body.into_inner();
    let now = clock.now();
    let today = local_now(now).date();
    let mut tx = pool.begin().await.map_err(db)?;
    let o = store::offices::lock(&mut tx, &office)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("office"))?;
    require_office(&user.0, &o, STAFF)?;
    let mut e = Vec::new();
    match b.kind.as_str() {
        "swap" if b.with_session_id.is_none() => {
            e.push(FieldError::new("with_session_id", "is required for a swap"))
        }
        "swap" if b.substitute_id.is_some() => {
            e.push(FieldError::new("substitute_id", "not used by a swap"))
        }
        "swap" if b.with_session_id == Some(b.session_id) => e.push(FieldError::new(
            "with_session_id",
            "must be another session",
        )),
        "substitute" if b.substitute_id.is_none() => e.push(FieldError::new(
            "substitute_id",
            "is required for a substitute",
        )),
        "substitute" if b.with_session_id.is_some() => e.push(FieldError::new(
            "with_session_id",
            "not used by a substitute",
        )),
        "swap" | "substitute" => {}
        _ => e.push(FieldError::new("kind", "must be swap or substitute")),
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    // Lock both sessions in id order.
    let mut ids = vec![b.session_id];
    ids.extend(b.with_session_id);
    ids.sort();
    let mut rows = Vec::new();
    for id in &ids {
        rows.push(store::sessions::lock(&mut tx, *id).await.map_err(db)?);
    }
    let find = |id: Uuid, field: &str| -> Result<SessionRow, Problem> {
        rows.iter()
            .flatten()
            .find(|s| s.id == id && s.office_id == office)
            .cloned()
            .ok_or_else(|| {
                Problem::validation(vec![FieldError::new(
                    field,
                    "no such session in this office",
                )])
            })
    };
    let s = find(b.session_id, "session_id")?;
    changeable(&s, Command::ChangeLeader, now, "session_id")?;
    let other = match b.with_session_id {
        Some(w) => {
            let x = find(w, "with_session_id")?;
            changeable(&x, Command::ChangeLeader, now, "with_session_id")?;
            if x.leader_id == s.leader_id {
                return Err(Problem::validation(vec![FieldError::new(
                    "with_session_id",
                    "the same leader holds both sessions",
                )]));
            }
            Some(x)
        }
        None => None,
    };
    let to_leader = match (&other, &b.substitute_id) {
        (Some(x), _) => x.leader_id.clone(),
        (None, Some(sub)) => {
            let people = store::offices::people(&mut *tx, &office)
                .await
                .map_err(db)?;
            match people.iter().find(|p| &p.id == sub) {
                None => {
                    return Err(Problem::validation(vec![FieldError::new(
                        "substitute_id",
                        format!("unknown person {sub} in this office"),
                    )]));
                }
                Some(p) if p.role != "leader" => {
                    return Err(Problem::validation(vec![FieldError::new(
                        "substitute_id",
                        format!("{sub} is not a leader"),
                    )]));
                }
                Some(_) if *sub == s.leader_id => {
                    return Err(Problem::validation(vec![FieldError::new(
                        "substitute_id",
                        "already holds the session",
                    )]));
                }
                Some(_) => sub.clone(),
            }
        }
        (None, None) => {
            return Err(Problem::validation(vec![FieldError::new(
                "substitute_id",
                "is required",
            )]));
        }
    };
    let record = |refused_rule: Option<&'static str>| store::sessions::SwapRecord {
        office: &office,
        kind: if other.is_some() {
            "swap"
        } else {
            "substitute"
        },
        session: s.id,
        other: other.as_ref().map(|x| x.id),
        from_leader: &s.leader_id,
        to_leader: &to_leader,
        refused_rule,
        by: &user.0.sub,
        at: now,
    };
    // R24: the notice period, for every session concerned.
    let notice = session::check_notice(s.date, today, o.notice_days)
        .map_err(|r| (r, "session_id"))
        .and_then(|()| match &other {
            Some(x) => session::check_notice(x.date, today, o.notice_days)
                .map_err(|r| (r, "with_session_id")),
            None => Ok(()),
        });
    if let Err((r, field)) = notice {
        // The refusal is kept in the history; the schedule does not change.
        store::sessions::record_swap(&mut *tx, &record(Some("notice_days")))
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        return Err(refused(r, field));
    }
    let slot = |x: &SessionRow| Slot {
        start: x.starts_at,
        end: x.ends_at,
    };
    if !free(&mut tx, &office, &to_leader, s.date, slot(&s), &ids).await? {
        let field = if other.is_some() {
            "with_session_id"
        } else {
            "substitute_id"
        };
        return Err(refused(
            Refusal::Rule {
                rule: "leader_overlap",
                detail: format!("{to_leader} has another session at that time"),
            },
            field,
        ));
    }
    if let Some(x) = &other
        && !free(&mut tx, &office, &s.leader_id, x.date, slot(x), &ids).await?
    {
        return Err(refused(
            Refusal::Rule {
                rule: "leader_overlap",
                detail: format!("{} has another session at that time", s.leader_id),
            },
            "session_id",
        ));
    }
    let kind = if other.is_some() {
        SessionChange::Swap
    } else {
        SessionChange::Substitute
    };
    let mut events = Vec::new();
    let mut changed = Vec::new();
    let mut changes = vec![(s.clone(), to_leader.clone())];
    if let Some(x) = &other {
        changes.push((x.clone(), s.leader_id.clone()));
    }
    for (cur, leader) in changes {
        let sequence = store::sessions::update(
            &mut tx,
            &store::sessions::Update {
                leader_id: Some(&leader),
                pin: true,
                ..store::sessions::Update::new(cur.id, now)
            },
        )
        .await
        .map_err(db)?;
        if let Some(n) = store::sessions::get(&mut *tx, cur.id).await.map_err(db)? {
            events.push(changed_event(&o, &n, kind, &cur.leader_id, sequence, now));
            changed.push(session_json(&n));
        }
    }
    let swap_id = store::sessions::record_swap(&mut *tx, &record(None))
        .await
        .map_err(db)?;
    outbox.put_many(&mut tx, &events).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Created()
        .json(serde_json::json!({"id": swap_id, "outcome": "accepted", "sessions": changed})))
}

/// The office's swap and substitute history, accepted and refused.
#[utoipa::path(get, path = "/v1/offices/{office}/swaps", params(("office" = String, Path)),
    responses((status = 200, description = "items"), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn swaps(
    user: Authenticated,
    path: web::Path<String>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let o = load_office(pool.get_ref(), &path).await?;
    require_office(&user.0, &o, STAFF)?;
    let rows = store::sessions::swaps(pool.get_ref(), &o.id)
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": rows})))
}

/// One session (public fields) with the cases it carries (staff only see those).
#[utoipa::path(get, path = "/v1/sessions/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The session"), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn get_session(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let s = store::sessions::get(pool.get_ref(), *path)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("session"))?;
    let o = load_office(pool.get_ref(), &s.office_id).await?;
    require_office(&user.0, &o, STAFF)?;
    let mut v = session_json(&s);
    v["office"] = serde_json::json!(o.id);
    v["published"] = serde_json::json!(s.published);
    v["cases"] = serde_json::json!(
        store::sessions::cases_of(pool.get_ref(), s.id)
            .await
            .map_err(db)?
    );
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Why: leader_unavailable | office_closed | emergency | other
    #[serde(default)]
    pub reason: Option<String>,
}

/// Cancels a published session (STATUS:CANCELLED in the feeds, SEQUENCE raised). Its
/// appointments move to the office's next session with a free place, or are cancelled
/// with it; every move is an event.
#[utoipa::path(post, path = "/v1/sessions/{id}/cancel", request_body = CancelBody, params(("id" = Uuid, Path)),
    responses((status = 200, description = "Cancelled: appointments moved and cancelled"), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn cancel(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: Option<ValidJson<CancelBody>>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.map(ValidJson::into_inner).unwrap_or_default();
    if let Some(r) = &b.reason
        && !["leader_unavailable", "office_closed", "emergency", "other"].contains(&r.as_str())
    {
        return Err(Problem::validation(vec![FieldError::new(
            "reason",
            "must be leader_unavailable, office_closed, emergency or other",
        )]));
    }
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let (o, s) = load_for_change(&mut tx, &user, *path, KEEPERS).await?;
    changeable(&s, Command::Cancel, now, "id")?;
    let events = cancel_with_appointments(&mut tx, &o, &s, true, now).await?;
    let (moved, dropped) = match events.first().and_then(|e| e.payload.as_ref()) {
        Some(Payload::ReceptionSessionCancelled(c)) => {
            (c.appointments_moved, c.appointments_cancelled)
        }
        _ => (0, 0),
    };
    outbox.put_many(&mut tx, &events).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    let s = store::sessions::get(pool.get_ref(), s.id)
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "session": s.as_ref().map(session_json), "appointments_moved": moved, "appointments_cancelled": dropped,
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// The new day (YYYY-MM-DD), a working day.
    pub date: NaiveDate,
    /// HH:MM
    pub start: String,
    pub end: String,
}

/// Moves a published session to another working day or time (SEQUENCE raised); its
/// appointments move with it (`AppointmentMoved`).
#[utoipa::path(post, path = "/v1/sessions/{id}/move", request_body = MoveBody, params(("id" = Uuid, Path)),
    responses((status = 200, description = "Moved"), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn move_session(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<MoveBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let now = clock.now();
    let mut e = Vec::new();
    let start = parse_hhmm(&b.start);
    let end = parse_hhmm(&b.end);
    if start.is_none() {
        e.push(FieldError::new("start", "must be HH:MM"));
    }
    if end.is_none() {
        e.push(FieldError::new("end", "must be HH:MM"));
    }
    if let (Some(a), Some(z)) = (start, end)
        && z <= a
    {
        e.push(FieldError::new("end", "must be after the start"));
    }
    if !OfficialCalendar.is_working_day(b.date) {
        e.push(FieldError::new(
            "date",
            "is not a working day (weekend or statutory holiday)",
        ));
    }
    if b.date.and_time(start.unwrap_or_default()) <= local_now(now) {
        e.push(FieldError::new("date", "must be in the future"));
    }
    let (Some(start), Some(end)) = (start, end) else {
        return Err(Problem::validation(e));
    };
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    let mut tx = pool.begin().await.map_err(db)?;
    let (o, s) = load_for_change(&mut tx, &user, *path, KEEPERS).await?;
    changeable(&s, Command::Move, now, "id")?;
    if !free(
        &mut tx,
        &o.id,
        &s.leader_id,
        b.date,
        Slot { start, end },
        &[s.id],
    )
    .await?
    {
        return Err(refused(
            Refusal::Rule {
                rule: "leader_overlap",
                detail: format!("{} has another session at that time", s.leader_id),
            },
            "date",
        ));
    }
    let sequence = store::sessions::update(
        &mut tx,
        &store::sessions::Update {
            date: Some(b.date),
            start: Some(start),
            end: Some(end),
            pin: true,
            ..store::sessions::Update::new(s.id, now)
        },
    )
    .await
    .map_err(db)?;
    let n = store::sessions::get(&mut *tx, s.id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("session"))?;
    let mut events = vec![changed_event(
        &o,
        &n,
        SessionChange::Moved,
        &s.leader_id,
        sequence,
        now,
    )];
    events.extend(carry_appointments(&mut tx, &o, &n, now).await?);
    let moved = events.len() - 1;
    outbox.put_many(&mut tx, &events).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"session": session_json(&n), "appointments_moved": moved})))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseBody {
    pub case_id: Uuid,
}

/// Adds a case the session carries to the ground (带案下访).
#[utoipa::path(post, path = "/v1/sessions/{id}/cases", request_body = CaseBody, params(("id" = Uuid, Path)),
    responses((status = 201, description = "Added"), (status = 200, description = "Already carried"), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn add_case(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<CaseBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let (_, s) = load_for_change(&mut tx, &user, *path, STAFF).await?;
    changeable(&s, Command::Book, now, "id")?;
    case_in_scope(&mut tx, &user.0, b.case_id).await?;
    let added = store::sessions::add_case(&mut tx, s.id, b.case_id, now)
        .await
        .map_err(db)?;
    let cases = store::sessions::cases_of(&mut *tx, s.id)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let body = serde_json::json!({"session_id": s.id, "cases": cases});
    Ok(if added {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}
