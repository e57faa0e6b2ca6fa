//! Annual plans: generate (a draft, or a proposal for a published plan), check,
//! publish, apply a proposal.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_bus::Outbox;
use xf_calendar::{HolidayCalendar, OfficialCalendar};
use xf_events::v1::SessionChange;
use xf_http::{FieldError, Problem, ValidJson};

use super::sessions::{cancel_with_appointments, changed_event, scheduled_event};
use super::{KEEPERS, STAFF, db, refused, require_office, session_json};
use crate::domain::plan::{self, Held, PlanCommand, PlanEffect, PlanState, Planned, Violation};
use crate::domain::roster;
use crate::store::{self, offices::OfficeRow};

fn year_of(y: i32) -> Result<(i32, NaiveDate, NaiveDate), Problem> {
    match (
        (2000..=2100).contains(&y),
        NaiveDate::from_ymd_opt(y, 1, 1),
        NaiveDate::from_ymd_opt(y, 12, 31),
    ) {
        (true, Some(a), Some(b)) => Ok((y, a, b)),
        _ => Err(Problem::validation(vec![FieldError::new(
            "year",
            "must be 2000 to 2100",
        )])),
    }
}

/// The office's people and rule versions.
async fn model(
    tx: &mut PgConnection,
    office: &str,
) -> Result<(Vec<plan::Person>, Vec<plan::RuleVersion>), Problem> {
    store::offices::model(tx, office).await.map_err(db)
}

/// Checks the year's live sessions and roster as they stand.
pub(super) async fn check_now(
    tx: &mut PgConnection,
    office: &str,
    year: i32,
) -> Result<Vec<Violation>, Problem> {
    let (_, from, to) = year_of(year)?;
    let (people, rules) = model(tx, office).await?;
    let sessions = store::sessions::of_year(&mut *tx, office, year)
        .await
        .map_err(db)?;
    let roster = store::duty::roster(&mut *tx, office, from, to)
        .await
        .map_err(db)?;
    let held: Vec<Held<'_>> = sessions
        .iter()
        .filter(|s| s.status == "scheduled")
        .map(|s| Held {
            date: s.date,
            start: s.starts_at,
            end: s.ends_at,
            post: &s.post,
            leader_id: &s.leader_id,
        })
        .collect();
    Ok(plan::check(
        &people,
        &rules,
        year,
        &held,
        &roster,
        &OfficialCalendar,
    ))
}

fn provisional_day(d: NaiveDate) -> bool {
    !OfficialCalendar.is_settled(d)
}

/// Generates the year's plan: a draft replaces the draft's sessions and the generated
/// duty roster; for a published plan it stores the changes it would make (nothing
/// published moves until they are applied).
#[utoipa::path(post, path = "/v1/offices/{office}/plans/{year}/generate", params(("office" = String, Path), ("year" = i32, Path)),
    responses((status = 200, description = "state, sessions, violations, provisional, and for a published plan the proposed changes"), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn generate(
    user: Authenticated,
    path: web::Path<(String, i32)>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let (office, year) = path.into_inner();
    let (year, from, to) = year_of(year)?;
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let o = lock(&mut tx, &office).await?;
    require_office(&user.0, &o, KEEPERS)?;
    let existing = store::sessions::plan(&mut *tx, &office, year)
        .await
        .map_err(db)?;
    let state = existing.as_ref().and_then(|p| PlanState::parse(&p.state));
    let (next, effect) =
        plan::transition(state, PlanCommand::Generate).map_err(|r| refused(r, "year"))?;
    let (people, rules) = model(&mut tx, &office).await?;
    let cal = OfficialCalendar;
    let generated = plan::generate(&people, &rules, year, &cal);
    let provisional = plan::provisional(year, &cal);
    let duty_days = roster::generate(&o.duty.0, from, to, &cal);
    let held = plan::held(&generated);
    let violations = plan::check(&people, &rules, year, &held, &duty_days, &cal);
    let mut proposal = None;
    match effect {
        PlanEffect::ReplaceDraft => {
            store::sessions::replace_draft(
                &mut tx,
                &office,
                year,
                &generated,
                &provisional_day,
                now,
            )
            .await
            .map_err(db)?;
            store::duty::replace_generated(&mut tx, &office, &duty_days, from, to)
                .await
                .map_err(db)?;
        }
        PlanEffect::Propose => {
            let current = store::sessions::of_year(&mut *tx, &office, year)
                .await
                .map_err(db)?;
            let ex: Vec<_> = current
                .iter()
                .map(store::sessions::SessionRow::existing)
                .collect();
            let changes = plan::propose(&ex, &generated);
            proposal = Some(serde_json::to_value(&changes).map_err(|e| Problem::internal(&e))?);
        }
        PlanEffect::Publish | PlanEffect::Apply => {}
    }
    let stored_violations = if effect == PlanEffect::Propose {
        check_now(&mut tx, &office, year).await?
    } else {
        violations.clone()
    };
    store::sessions::put_plan(
        &mut tx,
        &store::sessions::PlanWrite {
            office: &office,
            year,
            state: next.as_str(),
            provisional,
            violations: &stored_violations,
            proposal: proposal.as_ref(),
            at: now,
        },
    )
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "office": office,
        "year": year,
        "state": next.as_str(),
        "provisional": provisional,
        "sessions": generated.len(),
        "duty_days": duty_days.len(),
        "violations": violations,
        "proposal": proposal,
    })))
}

async fn lock(tx: &mut PgConnection, office: &str) -> Result<OfficeRow, Problem> {
    store::offices::lock(tx, office)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("office"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PlanQuery {
    /// Include every session of the plan (draft or published).
    #[serde(default)]
    pub sessions: bool,
}

/// A plan: its state, its violations as the sessions and roster stand now, the quality
/// score, any proposal, and optionally its sessions.
#[utoipa::path(get, path = "/v1/offices/{office}/plans/{year}", params(("office" = String, Path), ("year" = i32, Path), PlanQuery),
    responses((status = 200, description = "The plan"), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_plan(
    user: Authenticated,
    path: web::Path<(String, i32)>,
    q: web::Query<PlanQuery>,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, Problem> {
    let (office, year) = path.into_inner();
    let (year, from, to) = year_of(year)?;
    let mut tx = pool.begin().await.map_err(db)?;
    let o = store::offices::office(&mut *tx, &office)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("office"))?;
    require_office(&user.0, &o, STAFF)?;
    let p = store::sessions::plan(&mut *tx, &office, year)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("plan"))?;
    let violations = check_now(&mut tx, &office, year).await?;
    let sessions = store::sessions::of_year(&mut *tx, &office, year)
        .await
        .map_err(db)?;
    let roster_days = store::duty::roster(&mut *tx, &office, from, to)
        .await
        .map_err(db)?;
    let (people, _) = model(&mut tx, &office).await?;
    let leaders: Vec<&str> = sessions
        .iter()
        .filter(|s| s.status == "scheduled")
        .map(|s| s.leader_id.as_str())
        .collect();
    let quality = roster::quality(
        &people,
        &roster_days,
        &leaders,
        &[],
        from,
        to,
        &OfficialCalendar,
    );
    tx.commit().await.map_err(db)?;
    let mut v = serde_json::json!({
        "office": office,
        "year": year,
        "state": p.state,
        "provisional": p.provisional,
        "generated_at": p.generated_at,
        "published_at": p.published_at,
        "sessions": sessions.len(),
        "cancelled": sessions.iter().filter(|s| s.status == "cancelled").count(),
        "violations": violations,
        "quality": quality,
        "proposal": p.proposal.map(|j| j.0),
    });
    if q.sessions {
        v["items"] = sessions.iter().map(session_json).collect();
    }
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// Publish although the check lists violations.
    #[serde(default)]
    pub force: bool,
}

/// Publishes a draft (R25): its sessions become the public schedule, each announced
/// with `ReceptionSessionScheduled`. Refused while the check lists violations unless
/// forced.
#[utoipa::path(post, path = "/v1/offices/{office}/plans/{year}/publish", request_body = PublishBody,
    params(("office" = String, Path), ("year" = i32, Path)),
    responses((status = 200, description = "Published"), (status = 403), (status = 404), (status = 409, description = "Already published, or violations (rule plan_check)")),
    security(("bearer" = [])))]
pub async fn publish(
    user: Authenticated,
    path: web::Path<(String, i32)>,
    body: Option<ValidJson<PublishBody>>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let (office, year) = path.into_inner();
    let (year, _, _) = year_of(year)?;
    let force = body.map(|b| b.into_inner().force).unwrap_or(false);
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let o = lock(&mut tx, &office).await?;
    require_office(&user.0, &o, KEEPERS)?;
    let p = store::sessions::plan(&mut *tx, &office, year)
        .await
        .map_err(db)?;
    let state = p.as_ref().and_then(|p| PlanState::parse(&p.state));
    let violations = if state.is_some() {
        check_now(&mut tx, &office, year).await?
    } else {
        Vec::new()
    };
    let (next, _) = plan::transition(
        state,
        PlanCommand::Publish {
            violations: violations.len(),
            force,
        },
    )
    .map_err(|r| refused(r, "force"))?;
    store::sessions::publish_plan(&mut tx, &office, year, now)
        .await
        .map_err(db)?;
    let sessions = store::sessions::of_year(&mut *tx, &office, year)
        .await
        .map_err(db)?;
    let events: Vec<_> = sessions
        .iter()
        .filter(|s| s.status == "scheduled")
        .map(|s| scheduled_event(&o, s, now))
        .collect();
    outbox.put_many(&mut tx, &events).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "office": office, "year": year, "state": next.as_str(), "sessions": events.len(),
        "violations": violations,
    })))
}

/// Applies the stored proposal of a regenerated published plan: sessions added,
/// changed (SEQUENCE raised) or cancelled, each with its event.
#[utoipa::path(post, path = "/v1/offices/{office}/plans/{year}/proposal/apply",
    params(("office" = String, Path), ("year" = i32, Path)),
    responses((status = 200, description = "Applied: added, changed, cancelled"), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn apply(
    user: Authenticated,
    path: web::Path<(String, i32)>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, Problem> {
    let (office, year) = path.into_inner();
    let (year, _, _) = year_of(year)?;
    let now = clock.now();
    let mut tx = pool.begin().await.map_err(db)?;
    let o = lock(&mut tx, &office).await?;
    require_office(&user.0, &o, KEEPERS)?;
    let p = store::sessions::plan(&mut *tx, &office, year)
        .await
        .map_err(db)?;
    let state = p.as_ref().and_then(|p| PlanState::parse(&p.state));
    plan::transition(state, PlanCommand::ApplyProposal).map_err(|r| refused(r, "year"))?;
    let Some(proposal) = p.and_then(|p| p.proposal) else {
        return Err(Problem::conflict(
            "there is no proposal: generate the plan again first",
        ));
    };
    let changes: Vec<ChangeIn> =
        serde_json::from_value(proposal.0).map_err(|e| Problem::internal(&e))?;
    let (mut added, mut updated, mut cancelled) = (0, 0, 0);
    let mut events = Vec::new();
    for c in changes {
        match c {
            ChangeIn::Add { session } => {
                let ids = store::sessions::insert(
                    &mut tx,
                    &office,
                    year,
                    std::slice::from_ref(&session),
                    true,
                    &provisional_day,
                    now,
                )
                .await
                .map_err(db)?;
                for id in ids {
                    if let Some(s) = store::sessions::get(&mut *tx, id).await.map_err(db)? {
                        events.push(scheduled_event(&o, &s, now));
                    }
                }
                added += 1;
            }
            ChangeIn::Update {
                session_id,
                session,
            } => {
                let Some(cur) = store::sessions::lock(&mut tx, session_id)
                    .await
                    .map_err(db)?
                else {
                    continue;
                };
                if cur.pinned || cur.status != "scheduled" {
                    continue;
                }
                let seq = store::sessions::update(
                    &mut tx,
                    &store::sessions::Update {
                        leader_id: Some(&session.leader_id),
                        date: Some(session.date),
                        start: Some(session.start),
                        end: Some(session.end),
                        place: Some(&session.place),
                        post: Some(&session.post),
                        form: Some(session.form.as_str()),
                        ..store::sessions::Update::new(session_id, now)
                    },
                )
                .await
                .map_err(db)?;
                if let Some(s) = store::sessions::get(&mut *tx, session_id)
                    .await
                    .map_err(db)?
                {
                    events.push(changed_event(
                        &o,
                        &s,
                        SessionChange::Regenerated,
                        &cur.leader_id,
                        seq,
                        now,
                    ));
                    if (s.date, s.starts_at) != (cur.date, cur.starts_at) {
                        events.extend(
                            super::sessions::carry_appointments(&mut tx, &o, &s, now).await?,
                        );
                    }
                }
                updated += 1;
            }
            ChangeIn::Cancel { session_id, .. } => {
                let Some(cur) = store::sessions::lock(&mut tx, session_id)
                    .await
                    .map_err(db)?
                else {
                    continue;
                };
                if cur.pinned || cur.status != "scheduled" {
                    continue;
                }
                events.extend(cancel_with_appointments(&mut tx, &o, &cur, false, now).await?);
                cancelled += 1;
            }
        }
    }
    outbox.put_many(&mut tx, &events).await.map_err(db)?;
    store::sessions::clear_proposal(&mut tx, &office, year)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "office": office, "year": year, "added": added, "changed": updated, "cancelled": cancelled,
    })))
}

/// A stored proposal entry (the shape `plan::Change` serialises to).
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum ChangeIn {
    Add {
        session: Planned,
    },
    Cancel {
        session_id: uuid::Uuid,
    },
    Update {
        session_id: uuid::Uuid,
        session: Planned,
    },
}
