//! Appointments (约访): a case booked into a session with capacity; cancel and
//! reschedule. Scheduling holds the case id only; intake tells the petitioner from the
//! events.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_bus::Outbox;
use xf_events::Payload;
use xf_events::v1::{AppointmentBooked, AppointmentCancelled, AppointmentMoveReason};
use xf_http::{FieldError, Problem, ValidJson};

use super::sessions::{load_for_change, moved_event};
use super::{
    STAFF, case_in_scope, db, hhmm, instant, load_office, local_now, refused, require_office,
};
use crate::domain::appointment::{self, Command, State};
use crate::domain::session::{self, Status};
use crate::store::appointments::AppointmentRow;
use crate::store::offices::OfficeRow;
use crate::store::sessions::SessionRow;
use crate::store::{self};

fn json(a: &AppointmentRow, s: &SessionRow) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "case_id": a.case_id,
        "session_id": s.id,
        "office": s.office_id,
        "date": s.date,
        "start": hhmm(s.starts_at),
        "end": hhmm(s.ends_at),
        "place": s.place,
        "post": s.post,
        "leader": s.leader_name.clone().unwrap_or_else(|| s.leader_id.clone()),
        "state": a.state,
        "moves": a.moves,
        "booked_by": a.booked_by,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    })
}

/// Checks that `s` takes one more booking now: published, live, in the future, with a
/// free place. `field` names the session in the refusal.
async fn bookable(
    tx: &mut PgConnection,
    s: &SessionRow,
    now: DateTime<Utc>,
    field: &str,
) -> Result<(), Problem> {
    if !s.published {
        return Err(Problem::validation(vec![FieldError::new(
            field,
            "the session is not published",
        )]));
    }
    let status = Status::parse(&s.status).unwrap_or(Status::Cancelled);
    session::transition(status, session::Command::Book).map_err(|r| refused(r, field))?;
    session::check_future(s.date.and_time(s.starts_at), local_now(now)).map_err(|r| match r {
        crate::domain::Refusal::Rule { detail, .. } => Problem::validation(vec![FieldError::new(
            field,
            format!("the session is in the past: {detail}"),
        )]),
        other => refused(other, field),
    })?;
    let booked = store::appointments::booked(tx, s.id).await.map_err(db)?;
    appointment::check_capacity(booked, i64::from(s.capacity)).map_err(|r| refused(r, field))
}

fn booked_event(
    o: &OfficeRow,
    case: Uuid,
    id: Uuid,
    s: &SessionRow,
    now: DateTime<Utc>,
) -> xf_events::Envelope {
    xf_events::envelope(
        case,
        crate::SERVICE,
        xf_events::tier_of_code(&o.jurisdiction_code),
        &o.jurisdiction_code,
        now,
        Payload::AppointmentBooked(AppointmentBooked {
            appointment_id: id.to_string(),
            session_id: s.id.to_string(),
            office_id: o.id.clone(),
            starts_at: Some(xf_events::timestamp(instant(s.date, s.starts_at))),
            ends_at: Some(xf_events::timestamp(instant(s.date, s.ends_at))),
            place: s.place.clone(),
        }),
    )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookBody {
    /// The petitioner's case (its contact stays in intake).
    pub case_id: Uuid,
}

/// Books a case into a session. Refused: an unknown case (422 `case_id`), a case with
/// a live appointment already (409 `case_id`, double booking), a past session (422
/// `session_id`), a full or cancelled one (409 `session_id`).
#[utoipa::path(post, path = "/v1/sessions/{id}/appointments", request_body = BookBody, params(("id" = Uuid, Path)),
    responses((status = 201, description = "Booked"), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn book(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<BookBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let (o, s) = load_for_change(&mut tx, &user, *path, STAFF).await?;
    case_in_scope(&mut tx, &user.0, b.case_id).await?;
    bookable(&mut tx, &s, now, "session_id").await?;
    if let Some(a) = store::appointments::live_of_case(&mut tx, b.case_id)
        .await
        .map_err(db)?
    {
        return Err(
            Problem::conflict(format!("the case already has appointment {}", a.id)).field(
                "case_id",
                "double booking: cancel or reschedule the live appointment",
            ),
        );
    }
    let id = Uuid::now_v7();
    if !store::appointments::insert(&mut tx, id, s.id, b.case_id, &user.0.sub, now)
        .await
        .map_err(db)?
    {
        return Err(Problem::conflict("the case already has a live appointment")
            .field("case_id", "double booking"));
    }
    outbox
        .put(&mut tx, &booked_event(&o, b.case_id, id, &s, now))
        .await
        .map_err(db)?;
    let a = store::appointments::get(&mut *tx, id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("appointment"))?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Created().json(json(&a, &s)))
}

/// The appointments of a session (staff).
#[utoipa::path(get, path = "/v1/sessions/{id}/appointments", params(("id" = Uuid, Path)),
    responses((status = 200, description = "items"), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn of_session(
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
    let unit = user.0.unit.as_deref().filter(|u| !u.is_empty());
    let list = store::appointments::of_session(pool.get_ref(), s.id, false, unit)
        .await
        .map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "session_id": s.id, "capacity": s.capacity, "booked": s.booked,
        "items": list.iter().map(|a| json(a, &s)).collect::<Vec<_>>(),
    })))
}

async fn load(
    tx: &mut PgConnection,
    user: &Authenticated,
    id: Uuid,
) -> Result<(OfficeRow, SessionRow, AppointmentRow), Problem> {
    let a = store::appointments::get(&mut *tx, id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("appointment"))?;
    let (o, s) = load_for_change(tx, user, a.session_id, STAFF).await?;
    let a = store::appointments::lock(tx, id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("appointment"))?;
    Ok((o, s, a))
}

/// One appointment.
#[utoipa::path(get, path = "/v1/appointments/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The appointment"), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let a = store::appointments::get(pool.get_ref(), *path)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("appointment"))?;
    let s = store::sessions::get(pool.get_ref(), a.session_id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("session"))?;
    let o = load_office(pool.get_ref(), &s.office_id).await?;
    require_office(&user.0, &o, STAFF)?;
    // The accused unit learns nothing of the case, not even its appointment.
    let case = store::case(pool.get_ref(), a.case_id).await.map_err(db)?;
    if case.is_some_and(|c| xf_access::is_excluded(&user.0, c.excluded_unit_id.as_deref())) {
        return Err(Problem::not_found("appointment"));
    }
    Ok(HttpResponse::Ok().json(json(&a, &s)))
}

/// Cancels an appointment (`AppointmentCancelled`).
#[utoipa::path(post, path = "/v1/appointments/{id}/cancel", params(("id" = Uuid, Path)),
    responses((status = 200, description = "Cancelled"), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn cancel(
    user: Authenticated,
    path: web::Path<Uuid>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let (o, s, a) = load(&mut tx, &user, *path).await?;
    let state = State::parse(&a.state).unwrap_or(State::Cancelled);
    appointment::transition(state, Command::Cancel).map_err(|r| refused(r, "id"))?;
    store::appointments::cancel(&mut tx, a.id, now)
        .await
        .map_err(db)?;
    let ev = xf_events::envelope(
        a.case_id,
        crate::SERVICE,
        xf_events::tier_of_code(&o.jurisdiction_code),
        &o.jurisdiction_code,
        now,
        Payload::AppointmentCancelled(AppointmentCancelled {
            appointment_id: a.id.to_string(),
            session_id: s.id.to_string(),
            session_cancelled: false,
            office_id: o.id.clone(),
        }),
    );
    outbox.put(&mut tx, &ev).await.map_err(db)?;
    let a = store::appointments::get(&mut *tx, a.id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("appointment"))?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(json(&a, &s)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleBody {
    /// The new session, of the same office.
    pub session_id: Uuid,
}

/// Moves an appointment to another session of the office (`AppointmentMoved`).
#[utoipa::path(post, path = "/v1/appointments/{id}/reschedule", request_body = RescheduleBody, params(("id" = Uuid, Path)),
    responses((status = 200, description = "Moved"), (status = 403), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn reschedule(
    user: Authenticated,
    path: web::Path<Uuid>,
    body: ValidJson<RescheduleBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let (o, from, a) = load(&mut tx, &user, *path).await?;
    let state = State::parse(&a.state).unwrap_or(State::Cancelled);
    appointment::transition(state, Command::Move).map_err(|r| refused(r, "id"))?;
    if b.session_id == from.id {
        return Err(Problem::validation(vec![FieldError::new(
            "session_id",
            "the appointment is in this session already",
        )]));
    }
    let to = store::sessions::lock(&mut tx, b.session_id)
        .await
        .map_err(db)?
        .filter(|s| s.office_id == o.id)
        .ok_or_else(|| {
            Problem::validation(vec![FieldError::new(
                "session_id",
                "no such session in this office",
            )])
        })?;
    bookable(&mut tx, &to, now, "session_id").await?;
    store::appointments::move_to(&mut tx, a.id, to.id, now)
        .await
        .map_err(db)?;
    outbox
        .put(
            &mut tx,
            &moved_event(
                &o,
                a.case_id,
                a.id,
                from.id,
                &to,
                AppointmentMoveReason::Rescheduled,
                now,
            ),
        )
        .await
        .map_err(db)?;
    let a = store::appointments::get(&mut *tx, a.id)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("appointment"))?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(json(&a, &to)))
}
