//! Folds every case event into reporting's read models: the event is appended to the
//! ledger (once: its id is the key), then the case's facts and path are refolded from
//! all of its ledger entries. The same set of events gives the same facts whatever
//! order they came in and however often.

use sqlx::PgConnection;
use xf_bus::{HandleError, Handler};
use xf_events::Event;

use crate::{domain, store};

pub struct Facts;

/// Appends one event and refolds its case; false when it was already there.
pub async fn ingest(tx: &mut PgConnection, ev: &Event) -> Result<bool, sqlx::Error> {
    let Some(p) = ev.payload() else {
        return Ok(false);
    };
    if !domain::is_case_event(p) {
        return Ok(false);
    }
    store::lock_case(tx, ev.case_id).await?;
    let clean = domain::sanitize(&ev.envelope);
    if !store::append(tx, ev, &clean, xf_events::status::after(p)).await? {
        return Ok(false);
    }
    let entries = store::case_entries(tx, ev.case_id).await?;
    let facts = domain::fold(&entries);
    // What the case counted for before this event, for the statistics cube.
    let before: Vec<domain::Entry> = entries
        .iter()
        .filter(|e| e.event_id != ev.event_id)
        .cloned()
        .collect();
    let old = (!before.is_empty()).then(|| domain::fold(&before));
    store::cube::shift(tx, old.as_ref(), &facts).await?;
    let path_changed = old.as_ref().is_none_or(|o| o.visits != facts.visits);
    store::save(
        tx,
        ev.case_id,
        &facts,
        path_changed,
        xf_telemetry::current_trace_id(),
    )
    .await?;
    Ok(true)
}

impl Handler for Facts {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        ingest(tx, ev).await?;
        Ok(())
    }
}
