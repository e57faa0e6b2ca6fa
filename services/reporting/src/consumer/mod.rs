//! Folds every case event into reporting's read models, a batch of events at a time
//! (the bus hands over the events waiting together, in one transaction): the batch's
//! cases are locked, its events appended to the ledger (once: the event id is the
//! key), and each touched case's facts and path refolded from all of its ledger
//! entries; the statistics cube moves by the difference, summed per cell. The same
//! set of events gives the same facts whatever order they came in, however often,
//! and however they were split into batches.

use std::collections::{BTreeMap, HashSet};

use sqlx::PgConnection;
use uuid::Uuid;
use xf_bus::{Delivered, HandleError, Handler};
use xf_events::Event;

use crate::store::cube::Deltas;
use crate::{domain, store};

pub struct Facts;

/// Appends one event and refolds its case; false when it was already there (or is
/// not about a case).
pub async fn ingest(tx: &mut PgConnection, ev: &Event) -> Result<bool, sqlx::Error> {
    Ok(ingest_all(tx, &[(ev, xf_telemetry::current_trace_id())]).await? == 1)
}

/// Appends events (each with the trace it came in, if any) and refolds their cases;
/// returns how many were new to the ledger.
pub async fn ingest_all(
    tx: &mut PgConnection,
    events: &[(&Event, Option<String>)],
) -> Result<usize, sqlx::Error> {
    let mut seen = HashSet::new();
    let mut rows = Vec::with_capacity(events.len());
    // The trace of each case's first event in the batch.
    let mut traces: BTreeMap<Uuid, Option<String>> = BTreeMap::new();
    for (ev, trace) in events {
        let Some(p) = ev.payload() else { continue };
        if !domain::is_case_event(p) || !seen.insert(ev.event_id) {
            continue;
        }
        traces.entry(ev.case_id).or_insert_with(|| trace.clone());
        rows.push(store::NewEntry {
            event: ev,
            clean: domain::sanitize(&ev.envelope),
            status: xf_events::status::after(p),
        });
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let cases: Vec<Uuid> = traces.keys().copied().collect();
    store::lock_cases(tx, &cases).await?;
    let fresh = store::append_all(tx, &rows).await?;
    if fresh.is_empty() {
        return Ok(0);
    }
    let touched: Vec<Uuid> = rows
        .iter()
        .filter(|r| fresh.contains(&r.event.event_id))
        .map(|r| r.event.case_id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let entries = store::entries_of(tx, &touched).await?;
    let mut deltas = Deltas::default();
    let mut folded = Vec::with_capacity(touched.len());
    for case in &touched {
        let all = entries.get(case).map(Vec::as_slice).unwrap_or_default();
        let facts = domain::fold(all);
        // What the case counted for before this batch, for the statistics cube.
        let before: Vec<domain::Entry> = all
            .iter()
            .filter(|e| !fresh.contains(&e.event_id))
            .cloned()
            .collect();
        let old = (!before.is_empty()).then(|| domain::fold(&before));
        deltas.shift(old.as_ref(), &facts);
        let path_changed = old.as_ref().is_none_or(|o| o.visits != facts.visits);
        folded.push((*case, facts, path_changed));
    }
    deltas.apply(tx).await?;
    let saved: Vec<store::Saved<'_>> = folded
        .iter()
        .map(|(case, facts, path_changed)| store::Saved {
            case_id: *case,
            facts,
            trace_id: traces.get(case).cloned().flatten(),
            path_changed: *path_changed,
        })
        .collect();
    store::save_all(tx, &saved).await?;
    Ok(fresh.len())
}

impl Handler for Facts {
    async fn handle(&self, tx: &mut PgConnection, ev: &Event) -> Result<(), HandleError> {
        ingest(tx, ev).await?;
        Ok(())
    }

    async fn handle_batch<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [Delivered<'a>],
    ) -> Result<(), HandleError> {
        let evs: Vec<(&Event, Option<String>)> = events
            .iter()
            .map(|d| (d.event, d.span.in_scope(xf_telemetry::current_trace_id)))
            .collect();
        ingest_all(tx, &evs).await?;
        Ok(())
    }
}
