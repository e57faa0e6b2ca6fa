//! Supervision cards (督办卡), leader case ownership (领导包案), the cross-level monitor
//! and accountability records.
//!
//! - [`registry`]: every case supervision has seen, the chain of tiers it was dispatched
//!   through and the escalation notices; the monitor of cases that moved up a tier.
//! - supervision cards live in `domain::card`, `store::cards`, `routes::cards` and the
//!   sweeper (the overdue sweep that escalates a card's case exactly once).
//! - [`ownership`]: one leader owns a hard case until it is settled.
//! - [`accountability`]: missed deadlines followed by a repeat or skip-level petition.

pub mod accountability;
pub mod ownership;
pub mod registry;

use actix_web::web;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use xf_auth::roles;
use xf_bus::{HandleError, Outbox};
use xf_events::v1::EscalationReason;
use xf_events::{Event, Payload, Tier};
use xf_http::{FieldError, Problem};

/// Called by the event handler for every case event, inside its transaction.
pub async fn on_event(
    tx: &mut PgConnection,
    ev: &Event,
    _outbox: &Outbox,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    match ev.payload() {
        Some(Payload::CaseRegistered(r)) => registry::registered(tx, ev, r, now).await?,
        Some(Payload::CaseDispatched(d)) => registry::dispatched(tx, ev, d, now).await?,
        Some(Payload::CaseEscalated(e)) => registry::escalated(tx, ev, e).await?,
        Some(Payload::CaseClosed(_)) => registry::closed(tx, ev).await?,
        Some(Payload::DuplicateLinked(d)) => accountability::linked(tx, ev, d).await?,
        _ => {}
    }
    Ok(())
}

/// Called by the deadline sweeper in its transaction: fires what is due at `now`
/// exactly once; returns how many things fired.
pub async fn sweep(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    outbox: &Outbox,
) -> Result<u64, sqlx::Error> {
    crate::sweeper::cards_overdue(tx, now, outbox).await
}

/// The HTTP routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    registry::configure(cfg);
    ownership::configure(cfg);
    accountability::configure(cfg);
}

/// Roles that read oversight reports over their jurisdiction.
pub(crate) const OVERSEERS: [&str; 4] = [
    roles::SUPERVISOR,
    roles::LEADER,
    roles::ADMIN,
    roles::ANALYST,
];

pub(crate) use crate::routes::db;

/// The read-model name of an escalation reason (None for unspecified).
pub(crate) fn reason_name(r: EscalationReason) -> Option<&'static str> {
    use crate::domain::escalation::MoveReason;
    match r {
        EscalationReason::Unspecified => None,
        EscalationReason::Overdue => Some(MoveReason::Overdue.as_str()),
        EscalationReason::ReviewRequested => Some(MoveReason::ReviewRequested.as_str()),
        EscalationReason::SkipLevel => Some(MoveReason::SkipLevel.as_str()),
        EscalationReason::CardOverdue => Some(MoveReason::CardOverdue.as_str()),
    }
}

/// Every reason a case moves up a tier, in report order.
pub(crate) const REASONS: [&str; 4] = [
    crate::domain::escalation::MoveReason::ALL[0].as_str(),
    crate::domain::escalation::MoveReason::ALL[1].as_str(),
    crate::domain::escalation::MoveReason::ALL[2].as_str(),
    crate::domain::escalation::MoveReason::ALL[3].as_str(),
];

/// Tier of a code: 4 digits is the city level, otherwise by length.
pub(crate) fn tier_of(code: &str) -> Tier {
    if code.len() == 4 {
        Tier::City
    } else {
        xf_events::tier_of_code(code)
    }
}

/// Checks an optional jurisdiction filter against the user's own: defaults to the
/// token's, 422 when it is not a code, 403 when it lies outside the token's.
pub(crate) fn scope_filter(
    user: &xf_auth::Claims,
    requested: Option<&str>,
    errs: &mut Vec<FieldError>,
) -> Result<String, Problem> {
    match requested {
        None | Some("") => {
            if user.jurisdiction.is_empty() {
                return Err(Problem::forbidden("your token carries no jurisdiction"));
            }
            Ok(user.jurisdiction.clone())
        }
        Some(j) => {
            if let Err(e) = xf_jurisdiction::Code::parse(j) {
                errs.push(FieldError::new("jurisdiction", e.to_string()));
                return Ok(j.to_owned());
            }
            user.require_scope(j).map_err(|_| {
                Problem::forbidden(format!(
                    "jurisdiction {j} lies outside your jurisdiction {}",
                    user.jurisdiction
                ))
            })?;
            Ok(j.to_owned())
        }
    }
}

/// Parses an optional RFC 3339 query parameter, naming the field when it is not one.
pub(crate) fn parse_time(
    field: &str,
    v: Option<&str>,
    errs: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let v = v?;
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        // A day in China (UTC+8): `to` means up to the end of that day.
        let day = if field == "to" { d.succ_opt()? } else { d };
        let beijing = chrono::FixedOffset::east_opt(8 * 3600)?;
        return day
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(beijing).single())
            .map(|t| t.with_timezone(&Utc));
    }
    match DateTime::parse_from_rfc3339(v) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(e) => {
            errs.push(FieldError::new(
                field,
                format!(
                    "not a date (2026-01-31) or an RFC 3339 time (2026-01-31T00:00:00+08:00): {e}"
                ),
            ));
            None
        }
    }
}

/// Checks an identifier (unit or leader id): 1 to 100 characters, no control characters.
pub(crate) fn ident(errs: &mut Vec<FieldError>, field: &str, v: &str) {
    if v.trim().is_empty() {
        errs.push(FieldError::new(field, "must not be empty"));
    } else if v.chars().count() > 100 {
        errs.push(FieldError::new(field, "at most 100 characters"));
    } else if v.chars().any(char::is_control) {
        errs.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
}
