//! Plans and their sessions.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::plan::{Existing, Planned, Violation};
use crate::domain::rules::Form;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub office_id: String,
    pub year: i32,
    pub state: String,
    pub provisional: bool,
    pub violations: sqlx::types::Json<serde_json::Value>,
    pub proposal: Option<sqlx::types::Json<serde_json::Value>>,
    pub generated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

pub async fn plan<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
    year: i32,
) -> Result<Option<PlanRow>, sqlx::Error> {
    sqlx::query_as::<_, PlanRow>(
        "SELECT office_id, year, state, provisional, violations, proposal, generated_at, published_at
         FROM plans WHERE office_id = $1 AND year = $2",
    )
    .bind(office)
    .bind(year)
    .fetch_optional(ex)
    .await
}

pub struct PlanWrite<'a> {
    pub office: &'a str,
    pub year: i32,
    pub state: &'a str,
    pub provisional: bool,
    pub violations: &'a [Violation],
    pub proposal: Option<&'a serde_json::Value>,
    pub at: DateTime<Utc>,
}

pub async fn put_plan(tx: &mut PgConnection, p: &PlanWrite<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO plans (office_id, year, state, provisional, violations, proposal, generated_at, published_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $3 = 'published' THEN $7 END)
         ON CONFLICT (office_id, year) DO UPDATE SET state = EXCLUDED.state,
             provisional = EXCLUDED.provisional, violations = EXCLUDED.violations,
             proposal = EXCLUDED.proposal, generated_at = EXCLUDED.generated_at,
             published_at = COALESCE(plans.published_at, EXCLUDED.published_at)",
    )
    .bind(p.office)
    .bind(p.year)
    .bind(p.state)
    .bind(p.provisional)
    .bind(sqlx::types::Json(p.violations))
    .bind(p.proposal.map(sqlx::types::Json))
    .bind(p.at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn publish_plan(
    tx: &mut PgConnection,
    office: &str,
    year: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plans SET state = 'published', published_at = $3 WHERE office_id = $1 AND year = $2")
        .bind(office)
        .bind(year)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE sessions SET published = true, updated_at = $3 WHERE office_id = $1 AND year = $2",
    )
    .bind(office)
    .bind(year)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn clear_proposal(
    tx: &mut PgConnection,
    office: &str,
    year: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plans SET proposal = NULL WHERE office_id = $1 AND year = $2")
        .bind(office)
        .bind(year)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Replaces a draft's sessions.
pub async fn replace_draft(
    tx: &mut PgConnection,
    office: &str,
    year: i32,
    sessions: &[Planned],
    provisional: &dyn Fn(NaiveDate) -> bool,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE office_id = $1 AND year = $2 AND NOT published")
        .bind(office)
        .bind(year)
        .execute(&mut *tx)
        .await?;
    insert(tx, office, year, sessions, false, provisional, at).await?;
    Ok(())
}

/// Inserts sessions; returns their ids in order.
pub async fn insert(
    tx: &mut PgConnection,
    office: &str,
    year: i32,
    sessions: &[Planned],
    published: bool,
    provisional: &dyn Fn(NaiveDate) -> bool,
    at: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = sessions.iter().map(|_| Uuid::now_v7()).collect();
    for chunk in (0..sessions.len()).collect::<Vec<_>>().chunks(2000) {
        let pick = |f: &dyn Fn(&Planned) -> String| -> Vec<String> {
            chunk.iter().map(|i| f(&sessions[*i])).collect()
        };
        let cid: Vec<Uuid> = chunk.iter().map(|i| ids[*i]).collect();
        let rule = pick(&|s| s.rule_id.clone());
        let version: Vec<i32> = chunk.iter().map(|i| sessions[*i].rule_version).collect();
        let nominal: Vec<NaiveDate> = chunk.iter().map(|i| sessions[*i].nominal).collect();
        let slot: Vec<i16> = chunk
            .iter()
            .map(|i| i16::try_from(sessions[*i].slot).unwrap_or(i16::MAX))
            .collect();
        let date: Vec<NaiveDate> = chunk.iter().map(|i| sessions[*i].date).collect();
        let start: Vec<NaiveTime> = chunk.iter().map(|i| sessions[*i].start).collect();
        let end: Vec<NaiveTime> = chunk.iter().map(|i| sessions[*i].end).collect();
        let post = pick(&|s| s.post.clone());
        let leader = pick(&|s| s.leader_id.clone());
        let place = pick(&|s| s.place.clone());
        let form = pick(&|s| s.form.as_str().to_owned());
        let cap: Vec<i32> = chunk
            .iter()
            .map(|i| i32::try_from(sessions[*i].capacity).unwrap_or(i32::MAX))
            .collect();
        let prov: Vec<bool> = chunk
            .iter()
            .map(|i| provisional(sessions[*i].date))
            .collect();
        sqlx::query(
            "INSERT INTO sessions (id, office_id, year, rule_id, rule_version, nominal_date, slot, date,
                 starts_at, ends_at, post, leader_id, place, form, capacity, status, published,
                 provisional, updated_at)
             SELECT u.id, $1, $2, u.rule, u.version, u.nominal, u.slot, u.date, u.start, u.end_,
                    u.post, u.leader, u.place, u.form, u.cap, 'scheduled', $3, u.prov, $4
             FROM UNNEST($5::uuid[], $6::text[], $7::int[], $8::date[], $9::smallint[], $10::date[],
                         $11::time[], $12::time[], $13::text[], $14::text[], $15::text[], $16::text[],
                         $17::int[], $18::bool[])
                  AS u(id, rule, version, nominal, slot, date, start, end_, post, leader, place, form, cap, prov)",
        )
        .bind(office)
        .bind(year)
        .bind(published)
        .bind(at)
        .bind(&cid)
        .bind(&rule)
        .bind(&version)
        .bind(&nominal)
        .bind(&slot)
        .bind(&date)
        .bind(&start)
        .bind(&end)
        .bind(&post)
        .bind(&leader)
        .bind(&place)
        .bind(&form)
        .bind(&cap)
        .bind(&prov)
        .execute(&mut *tx)
        .await?;
    }
    Ok(ids)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub office_id: String,
    pub year: i32,
    pub rule_id: String,
    pub nominal_date: NaiveDate,
    pub slot: i16,
    pub date: NaiveDate,
    pub starts_at: NaiveTime,
    pub ends_at: NaiveTime,
    pub post: String,
    pub leader_id: String,
    pub leader_name: Option<String>,
    pub place: String,
    pub form: String,
    pub capacity: i32,
    pub status: String,
    pub published: bool,
    pub sequence: i32,
    pub pinned: bool,
    pub provisional: bool,
    pub updated_at: DateTime<Utc>,
    pub booked: i64,
}

impl SessionRow {
    pub fn form(&self) -> Form {
        Form::parse(&self.form).unwrap_or(Form::FixedPoint)
    }
    pub fn existing(&self) -> Existing {
        Existing {
            id: self.id,
            key: (
                self.rule_id.clone(),
                self.nominal_date,
                u16::try_from(self.slot).unwrap_or(0),
            ),
            date: self.date,
            start: self.starts_at,
            end: self.ends_at,
            leader_id: self.leader_id.clone(),
            post: self.post.clone(),
            place: self.place.clone(),
            form: self.form(),
            cancelled: self.status == "cancelled",
            pinned: self.pinned,
        }
    }
}

const SESSION_SELECT: &str = "SELECT s.id, s.office_id, s.year, s.rule_id, s.nominal_date, s.slot, s.date,
        s.starts_at, s.ends_at, s.post, s.leader_id, p.name AS leader_name, s.place, s.form, s.capacity,
        s.status, s.published, s.sequence, s.pinned, s.provisional, s.updated_at,
        (SELECT count(*) FROM appointments a WHERE a.session_id = s.id AND a.state = 'booked') AS booked
     FROM sessions s LEFT JOIN people p ON p.office_id = s.office_id AND p.id = s.leader_id";

/// Published sessions of an office in `[from, to]`, in date order; one leader's when
/// given.
pub async fn published<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
    from: NaiveDate,
    to: NaiveDate,
    leader: Option<&str>,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(format!(
        "{SESSION_SELECT} WHERE s.office_id = $1 AND s.published AND s.date BETWEEN $2 AND $3
           AND ($4::text IS NULL OR s.leader_id = $4)
         ORDER BY s.date, s.starts_at, s.rule_id, s.slot"
    )))
    .bind(office)
    .bind(from)
    .bind(to)
    .bind(leader)
    .fetch_all(ex)
    .await
}

/// What the published feed of `[from, to]` depends on: how many sessions and the sum of
/// their SEQUENCEs (every change raises one, publishing adds sessions).
pub async fn feed_version<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
    from: NaiveDate,
    to: NaiveDate,
    leader: Option<&str>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), COALESCE(sum(sequence), 0)::bigint FROM sessions
         WHERE office_id = $1 AND published AND date BETWEEN $2 AND $3
           AND ($4::text IS NULL OR leader_id = $4)",
    )
    .bind(office)
    .bind(from)
    .bind(to)
    .bind(leader)
    .fetch_one(ex)
    .await
}

/// Every session of a plan year (draft or published).
pub async fn of_year<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
    year: i32,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(format!(
        "{SESSION_SELECT} WHERE s.office_id = $1 AND s.year = $2 ORDER BY s.date, s.starts_at, s.rule_id, s.slot"
    )))
    .bind(office)
    .bind(year)
    .fetch_all(ex)
    .await
}

pub async fn get<'e, E: PgExecutor<'e>>(
    ex: E,
    id: Uuid,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(format!(
        "{SESSION_SELECT} WHERE s.id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Locks a session row for a change.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    get(&mut *tx, id).await
}

/// A change to a published session; SEQUENCE goes up by one and it is pinned
/// (regeneration leaves it alone).
pub struct Update<'a> {
    pub id: Uuid,
    pub leader_id: Option<&'a str>,
    pub date: Option<NaiveDate>,
    pub start: Option<NaiveTime>,
    pub end: Option<NaiveTime>,
    pub place: Option<&'a str>,
    pub post: Option<&'a str>,
    pub form: Option<&'a str>,
    pub cancel: bool,
    pub pin: bool,
    pub at: DateTime<Utc>,
}

impl<'a> Update<'a> {
    /// A change of nothing yet (set the fields that change).
    pub fn new(id: Uuid, at: DateTime<Utc>) -> Self {
        Update {
            id,
            leader_id: None,
            date: None,
            start: None,
            end: None,
            place: None,
            post: None,
            form: None,
            cancel: false,
            pin: false,
            at,
        }
    }
}

pub async fn update(tx: &mut PgConnection, u: &Update<'_>) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE sessions SET leader_id = COALESCE($2, leader_id), date = COALESCE($3, date),
             starts_at = COALESCE($4, starts_at), ends_at = COALESCE($5, ends_at),
             place = COALESCE($6, place), post = COALESCE($7, post), form = COALESCE($8, form),
             status = CASE WHEN $9 THEN 'cancelled' ELSE status END,
             pinned = pinned OR $10, sequence = sequence + 1, updated_at = $11
         WHERE id = $1 RETURNING sequence",
    )
    .bind(u.id)
    .bind(u.leader_id)
    .bind(u.date)
    .bind(u.start)
    .bind(u.end)
    .bind(u.place)
    .bind(u.post)
    .bind(u.form)
    .bind(u.cancel)
    .bind(u.pin)
    .bind(u.at)
    .fetch_one(&mut *tx)
    .await
}

/// Sessions of a leader on a day (other than `except`), live ones only.
pub async fn leader_day(
    tx: &mut PgConnection,
    office: &str,
    leader: &str,
    date: NaiveDate,
    except: &[Uuid],
) -> Result<Vec<(NaiveTime, NaiveTime)>, sqlx::Error> {
    let rows: Vec<(NaiveTime, NaiveTime)> = sqlx::query_as(
        "SELECT starts_at, ends_at FROM sessions WHERE office_id = $1 AND leader_id = $2 AND date = $3
           AND status = 'scheduled' AND NOT (id = ANY($4))",
    )
    .bind(office)
    .bind(leader)
    .bind(date)
    .bind(except)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows)
}

/// The next live published session of the office after `after` with a free place.
pub async fn next_with_room(
    tx: &mut PgConnection,
    office: &str,
    after: (NaiveDate, NaiveTime),
    except: Uuid,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(format!(
        "{SESSION_SELECT} WHERE s.office_id = $1 AND s.published AND s.status = 'scheduled' AND s.id <> $4
           AND (s.date, s.starts_at) > ($2::date, $3::time)
           AND (SELECT count(*) FROM appointments a WHERE a.session_id = s.id AND a.state = 'booked') < s.capacity
         ORDER BY s.date, s.starts_at LIMIT 1"
    )))
    .bind(office)
    .bind(after.0)
    .bind(after.1)
    .bind(except)
    .fetch_optional(&mut *tx)
    .await
}

pub async fn add_case(
    tx: &mut PgConnection,
    session: Uuid,
    case: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO session_cases (session_id, case_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(session)
    .bind(case)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn cases_of<'e, E: PgExecutor<'e>>(
    ex: E,
    session: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT case_id FROM session_cases WHERE session_id = $1 ORDER BY added_at")
        .bind(session)
        .fetch_all(ex)
        .await
}

/// One swap or substitute request, accepted or refused.
pub struct SwapRecord<'a> {
    pub office: &'a str,
    pub kind: &'a str,
    pub session: Uuid,
    pub other: Option<Uuid>,
    pub from_leader: &'a str,
    pub to_leader: &'a str,
    pub refused_rule: Option<&'a str>,
    pub by: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn record_swap<'e, E: PgExecutor<'e>>(
    ex: E,
    s: &SwapRecord<'_>,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO swaps (id, office_id, kind, session_id, other_session_id, from_leader, to_leader,
             outcome, refused_rule, requested_by, requested_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::text IS NULL THEN 'accepted' ELSE 'refused' END,
                 $8, $9, $10)",
    )
    .bind(id)
    .bind(s.office)
    .bind(s.kind)
    .bind(s.session)
    .bind(s.other)
    .bind(s.from_leader)
    .bind(s.to_leader)
    .bind(s.refused_rule)
    .bind(s.by)
    .bind(s.at)
    .execute(ex)
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SwapRow {
    pub id: Uuid,
    pub kind: String,
    pub session_id: Uuid,
    pub other_session_id: Option<Uuid>,
    pub from_leader: String,
    pub to_leader: String,
    pub outcome: String,
    pub refused_rule: Option<String>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

pub async fn swaps<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
) -> Result<Vec<SwapRow>, sqlx::Error> {
    sqlx::query_as::<_, SwapRow>(
        "SELECT id, kind, session_id, other_session_id, from_leader, to_leader, outcome, refused_rule,
                requested_by, requested_at
         FROM swaps WHERE office_id = $1 ORDER BY requested_at, id",
    )
    .bind(office)
    .fetch_all(ex)
    .await
}
