//! The duty roster, the append-only duty log and handovers.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::roster::RosterDay;

/// Replaces the generated roster of `[from, to]`; days set by hand stay.
pub async fn replace_generated(
    tx: &mut PgConnection,
    office: &str,
    days: &[RosterDay],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM duty_roster WHERE office_id = $1 AND date BETWEEN $2 AND $3 AND source = 'generated'
           AND date NOT IN (SELECT date FROM duty_roster WHERE office_id = $1 AND source = 'manual')",
    )
    .bind(office)
    .bind(from)
    .bind(to)
    .execute(&mut *tx)
    .await?;
    let mut dates = Vec::new();
    let mut people = Vec::new();
    let mut roles = Vec::new();
    for d in days {
        for l in &d.leaders {
            dates.push(d.date);
            people.push(l.clone());
            roles.push("leader");
        }
        for s in &d.staff {
            dates.push(d.date);
            people.push(s.clone());
            roles.push("staff");
        }
    }
    sqlx::query(
        "INSERT INTO duty_roster (office_id, date, person_id, role, source)
         SELECT $1, u.d, u.p, u.r, 'generated' FROM UNNEST($2::date[], $3::text[], $4::text[]) AS u(d, p, r)
         WHERE u.d NOT IN (SELECT date FROM duty_roster WHERE office_id = $1 AND source = 'manual')
         ON CONFLICT DO NOTHING",
    )
    .bind(office)
    .bind(&dates)
    .bind(&people)
    .bind(&roles)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sets one day by hand.
pub async fn set_day(
    tx: &mut PgConnection,
    office: &str,
    date: NaiveDate,
    leaders: &[String],
    staff: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM duty_roster WHERE office_id = $1 AND date = $2")
        .bind(office)
        .bind(date)
        .execute(&mut *tx)
        .await?;
    let people: Vec<String> = leaders.iter().chain(staff).cloned().collect();
    let roles: Vec<&str> = leaders
        .iter()
        .map(|_| "leader")
        .chain(staff.iter().map(|_| "staff"))
        .collect();
    sqlx::query(
        "INSERT INTO duty_roster (office_id, date, person_id, role, source)
         SELECT $1, $2, u.p, u.r, 'manual' FROM UNNEST($3::text[], $4::text[]) AS u(p, r)
         ON CONFLICT DO NOTHING",
    )
    .bind(office)
    .bind(date)
    .bind(&people)
    .bind(&roles)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn roster<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<RosterDay>, sqlx::Error> {
    let rows: Vec<(NaiveDate, String, String)> = sqlx::query_as(
        "SELECT date, person_id, role FROM duty_roster WHERE office_id = $1 AND date BETWEEN $2 AND $3
         ORDER BY date, role, person_id",
    )
    .bind(office)
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await?;
    let mut out: Vec<RosterDay> = Vec::new();
    for (date, person, role) in rows {
        if out.last().is_none_or(|d| d.date != date) {
            out.push(RosterDay {
                date,
                leaders: Vec::new(),
                staff: Vec::new(),
            });
        }
        if let Some(d) = out.last_mut() {
            if role == "leader" {
                d.leaders.push(person);
            } else {
                d.staff.push(person);
            }
        }
    }
    Ok(out)
}

/// One entry of the duty log.
pub struct LogEntry<'a> {
    pub office: &'a str,
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub kind: &'a str,
    pub category: Option<&'a str>,
    pub case_id: Option<Uuid>,
    pub headcount: i32,
    pub received_by: &'a [String],
    pub outcome: &'a str,
    pub by: &'a str,
}

pub async fn append_log<'e, E: PgExecutor<'e>>(
    ex: E,
    e: &LogEntry<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO duty_log (office_id, date, at, kind, category, case_id, headcount, received_by, outcome, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(e.office)
    .bind(e.date)
    .bind(e.at)
    .bind(e.kind)
    .bind(e.category)
    .bind(e.case_id)
    .bind(e.headcount)
    .bind(e.received_by)
    .bind(e.outcome)
    .bind(e.by)
    .fetch_one(ex)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct LogRow {
    pub id: i64,
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub category: Option<String>,
    pub case_id: Option<Uuid>,
    pub headcount: i32,
    pub received_by: Vec<String>,
    pub outcome: String,
    pub recorded_by: String,
}

pub async fn log<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<LogRow>, sqlx::Error> {
    sqlx::query_as::<_, LogRow>(
        "SELECT id, date, at, kind, category, case_id, headcount, received_by, outcome, recorded_by
         FROM duty_log WHERE office_id = $1 AND date BETWEEN $2 AND $3 ORDER BY at, id",
    )
    .bind(office)
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await
}

pub struct Handover<'a> {
    pub office: &'a str,
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub from: &'a str,
    pub to: &'a str,
    pub open_cases: &'a [Uuid],
    pub by: &'a str,
}

pub async fn append_handover<'e, E: PgExecutor<'e>>(
    ex: E,
    h: &Handover<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO handovers (office_id, date, at, from_person, to_person, open_case_ids, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(h.office)
    .bind(h.date)
    .bind(h.at)
    .bind(h.from)
    .bind(h.to)
    .bind(h.open_cases)
    .bind(h.by)
    .fetch_one(ex)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct HandoverRow {
    pub id: i64,
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub from_person: String,
    pub to_person: String,
    pub open_case_ids: Vec<Uuid>,
    pub recorded_by: String,
}

pub async fn handovers<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<HandoverRow>, sqlx::Error> {
    sqlx::query_as::<_, HandoverRow>(
        "SELECT id, date, at, from_person, to_person, open_case_ids, recorded_by
         FROM handovers WHERE office_id = $1 AND date BETWEEN $2 AND $3 ORDER BY at, id",
    )
    .bind(office)
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await
}
