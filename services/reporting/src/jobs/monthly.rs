//! The monthly report job and on-demand generation.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;
use xf_calendar::{HolidayCalendar, OfficialCalendar};
use xf_events::Payload;
use xf_events::v1::MonthlyReportIssued;

use super::Jobs;
use crate::domain::query::{comparisons, month};
use crate::domain::report::{self, Month};
use crate::store;

/// `YYYY-MM` of a date.
pub fn name(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// Bounds (UTC instants of Asia/Shanghai midnights) of the month starting on `first`.
pub fn bounds(first: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let (a, b) = month(&name(first)).unwrap_or((first, first));
    store::stats::bounds(a, b)
}

/// Generates the report of `month` (YYYY-MM) for `office`, as of the month's end.
pub async fn generate(
    pool: &sqlx::PgPool,
    month_name: &str,
    office: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let Some((first, _)) = month(month_name) else {
        return Ok(None);
    };
    let (prev, year) = comparisons(first);
    let (s, e) = bounds(first);
    let (ps, pe) = bounds(prev);
    let (ys, ye) = bounds(year);
    let (pn, yn) = (name(prev), name(year));
    let cases = store::reports::facts_as_of(pool, office, s, e).await?;
    let pcases = store::reports::facts_as_of(pool, office, ps, pe).await?;
    let ycases = store::reports::facts_as_of(pool, office, ys, ye).await?;
    Ok(Some(report::build(
        office,
        Month {
            name: month_name,
            start: s,
            end: e,
        },
        &cases,
        (
            Month {
                name: &pn,
                start: ps,
                end: pe,
            },
            &pcases,
        ),
        (
            Month {
                name: &yn,
                start: ys,
                end: ye,
            },
            &ycases,
        ),
    )))
}

/// The first working day of the month of `d`.
pub fn first_working_day(d: NaiveDate) -> NaiveDate {
    let first = d.with_day(1).unwrap_or(d);
    let cal = OfficialCalendar;
    let mut x = first;
    for _ in 0..31 {
        if cal.is_working_day(x) {
            return x;
        }
        x = x.succ_opt().unwrap_or(x);
    }
    first
}

/// Runs last month's reports when today (Asia/Shanghai) is on or after this month's
/// first working day and no replica ran them yet. The claim, the reports and the
/// notices commit together: a run that fails leaves nothing claimed. Returns the
/// number of offices reported, or None when nothing was due.
pub async fn run_due(j: &Jobs) -> Result<Option<usize>, sqlx::Error> {
    let now = j.clock.now();
    let today = xf_calendar::shanghai_day(now);
    if today < first_working_day(today) {
        return Ok(None);
    }
    let this_first = today.with_day(1).unwrap_or(today);
    let Some(last_first) = this_first.checked_sub_months(chrono::Months::new(1)) else {
        return Ok(None);
    };
    let month_name = name(last_first);
    let mut tx = j.pool.begin().await?;
    if !store::reports::claim(&mut tx, &month_name, now).await? {
        return Ok(None);
    }
    let (_, end) = bounds(last_first);
    let offices = store::reports::offices(&j.pool, end).await?;
    for office in &offices {
        let Some(body) = generate(&j.pool, &month_name, office).await? else {
            continue;
        };
        let id = Uuid::now_v7();
        if store::reports::put(&mut tx, id, &month_name, office, now, &body).await? {
            notify(j, &mut tx, id, &month_name, office, &body, now).await?;
        }
    }
    store::reports::finish(
        &mut tx,
        &month_name,
        now,
        i32::try_from(offices.len()).unwrap_or(i32::MAX),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(offices.len()))
}

/// The notice to the leaders a report concerns.
pub async fn notify(
    j: &Jobs,
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    month_name: &str,
    office: &str,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let leader_ids: Vec<String> = body["leaders"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l["leader_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let env = xf_events::envelope(
        id,
        crate::SERVICE,
        xf_events::tier_of_code(office),
        office,
        now,
        Payload::MonthlyReportIssued(MonthlyReportIssued {
            report_id: id.to_string(),
            month: month_name.to_owned(),
            office_jurisdiction_code: office.to_owned(),
            leader_ids,
        }),
    );
    j.outbox.put(tx, &env).await
}
