//! Supervision cards, their history, progress reports and urges.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::card::CardState;

/// A card with its urge count and its case's accused unit.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CardRow {
    pub id: Uuid,
    pub case_id: Uuid,
    pub jurisdiction_code: String,
    pub instruction: String,
    pub undertaking_unit_id: String,
    pub state: String,
    pub issued_by: String,
    pub issued_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    pub result: Option<String>,
    pub overdue_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub transfers: i32,
    pub urges: i64,
    pub excluded_unit_id: Option<String>,
}

const COLUMNS: &str = "id, case_id, jurisdiction_code, instruction, undertaking_unit_id,
    state, issued_by, issued_at, due_at, acknowledged_at, acknowledged_by, completed_at,
    completed_by, result, overdue_at, updated_at, approved_by, approved_at, transfers,
    (SELECT count(*) FROM card_urges u WHERE u.card_id = cards.id) AS urges,
    (SELECT o.excluded_unit_id FROM oversight_cases o WHERE o.case_id = cards.case_id)
        AS excluded_unit_id";

/// One card; locked (the card row itself, not the subqueries) when `lock`.
pub async fn get(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<CardRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM cards WHERE id = $1{}",
        if lock { " FOR UPDATE OF cards" } else { "" }
    );
    sqlx::query_as::<_, CardRow>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// A card to insert.
pub struct NewCard<'a> {
    pub id: Uuid,
    pub case_id: Uuid,
    pub jurisdiction_code: &'a str,
    pub instruction: &'a str,
    pub undertaking_unit_id: &'a str,
    pub state: CardState,
    pub issued_by: &'a str,
    pub at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut PgConnection, c: &NewCard<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cards (id, case_id, jurisdiction_code, instruction, undertaking_unit_id,
             state, issued_by, issued_at, due_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $9, $6, $7, $8, $7)",
    )
    .bind(c.id)
    .bind(c.case_id)
    .bind(c.jurisdiction_code)
    .bind(c.instruction)
    .bind(c.undertaking_unit_id)
    .bind(c.issued_by)
    .bind(c.at)
    .bind(c.due_at)
    .bind(c.state.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Appends a step to a card's history.
pub async fn history(
    conn: &mut PgConnection,
    card: Uuid,
    at: DateTime<Utc>,
    action: &str,
    by: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO card_history (card_id, at, action, by_sub, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(card)
    .bind(at)
    .bind(action)
    .bind(by)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// A step's write: the new state, who acted, and what it records.
pub struct Step<'a> {
    pub id: Uuid,
    pub state: CardState,
    pub at: DateTime<Utc>,
    pub by: &'a str,
    pub acknowledging: bool,
    pub completing: bool,
    pub result: Option<&'a str>,
}

pub async fn step(tx: &mut PgConnection, s: &Step<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cards SET state = $2, updated_at = $3,
             acknowledged_at = CASE WHEN $4 THEN $3 ELSE acknowledged_at END,
             acknowledged_by = CASE WHEN $4 THEN $5 ELSE acknowledged_by END,
             completed_at = CASE WHEN $6 THEN $3 ELSE completed_at END,
             completed_by = CASE WHEN $6 THEN $5 ELSE completed_by END,
             result = COALESCE($7, result)
         WHERE id = $1",
    )
    .bind(s.id)
    .bind(s.state.as_str())
    .bind(s.at)
    .bind(s.acknowledging)
    .bind(s.by)
    .bind(s.completing)
    .bind(s.result)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn approve(
    tx: &mut PgConnection,
    id: Uuid,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE cards SET approved_by = $2, approved_at = $3 WHERE id = $1")
        .bind(id)
        .bind(by)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Issues the card (again) to `unit` at `at`; `moved` counts a transfer.
pub async fn issue_to(
    tx: &mut PgConnection,
    id: Uuid,
    unit: &str,
    at: DateTime<Utc>,
    moved: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cards SET undertaking_unit_id = $2, issued_at = $3,
             transfers = transfers + $4, acknowledged_at = NULL, acknowledged_by = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(unit)
    .bind(at)
    .bind(i32::from(moved))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn add_report(
    tx: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    by: &str,
    text: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO card_reports (card_id, at, by_sub, text) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(at)
        .bind(by)
        .bind(text)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn add_urge(
    tx: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    by: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO card_urges (card_id, at, by_sub, note) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(at)
        .bind(by)
        .bind(note)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Report {
    pub at: DateTime<Utc>,
    #[serde(rename = "by")]
    pub by_sub: String,
    pub text: String,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Urge {
    pub at: DateTime<Utc>,
    #[serde(rename = "by")]
    pub by_sub: String,
    pub note: String,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct History {
    pub at: DateTime<Utc>,
    pub action: String,
    #[serde(rename = "by")]
    pub by_sub: String,
    pub detail: serde_json::Value,
}

pub async fn reports(conn: &mut PgConnection, id: Uuid) -> Result<Vec<Report>, sqlx::Error> {
    sqlx::query_as::<_, Report>(
        "SELECT at, by_sub, text FROM card_reports WHERE card_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
}

pub async fn urges(conn: &mut PgConnection, id: Uuid) -> Result<Vec<Urge>, sqlx::Error> {
    sqlx::query_as::<_, Urge>(
        "SELECT at, by_sub, note FROM card_urges WHERE card_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
}

pub async fn history_of(conn: &mut PgConnection, id: Uuid) -> Result<Vec<History>, sqlx::Error> {
    sqlx::query_as::<_, History>(
        "SELECT at, action, by_sub, detail FROM card_history WHERE card_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
}

/// Which cards a listing selects.
#[derive(Debug, Default)]
pub struct Filter {
    /// Within this jurisdiction (prefix).
    pub scope: Option<String>,
    /// Addressed to this unit.
    pub unit: Option<String>,
    /// Not on a case this unit is accused in.
    pub hidden_from: Option<String>,
    pub state: Option<CardState>,
    pub overdue: Option<bool>,
    pub case_id: Option<Uuid>,
    pub limit: i64,
}

pub async fn list<'e, E: PgExecutor<'e>>(ex: E, f: &Filter) -> Result<Vec<CardRow>, sqlx::Error> {
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM cards WHERE TRUE"));
    if let Some(scope) = &f.scope {
        qb.push(" AND jurisdiction_code LIKE ")
            .push_bind(format!("{scope}%"));
    }
    if let Some(unit) = &f.unit {
        qb.push(" AND undertaking_unit_id = ")
            .push_bind(unit.clone());
    }
    if let Some(unit) = &f.hidden_from {
        qb.push(
            " AND NOT EXISTS (SELECT 1 FROM oversight_cases o
                WHERE o.case_id = cards.case_id AND o.excluded_unit_id = ",
        )
        .push_bind(unit.clone())
        .push(")");
    }
    if let Some(s) = f.state {
        qb.push(" AND state = ").push_bind(s.as_str());
    }
    if let Some(o) = f.overdue {
        qb.push(if o {
            " AND overdue_at IS NOT NULL"
        } else {
            " AND overdue_at IS NULL"
        });
    }
    if let Some(c) = f.case_id {
        qb.push(" AND case_id = ").push_bind(c);
    }
    qb.push(" ORDER BY due_at, id LIMIT ").push_bind(f.limit);
    qb.build_query_as::<CardRow>().fetch_all(ex).await
}

/// A card past its deadline, with its case's jurisdiction now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OverdueRow {
    pub id: Uuid,
    pub case_id: Uuid,
    pub undertaking_unit_id: String,
    pub due_at: DateTime<Utc>,
    pub jurisdiction_code: String,
}

const OVERDUE: &str = "SELECT c.id, c.case_id, c.undertaking_unit_id, c.due_at, o.jurisdiction_code
     FROM cards c JOIN oversight_cases o ON o.case_id = c.case_id
     WHERE c.state IN ('issued', 'acknowledged', 'in_progress') AND c.overdue_at IS NULL
       AND c.due_at <= $1
     ORDER BY c.due_at, c.id
     LIMIT 500
     FOR UPDATE OF c, o SKIP LOCKED";

const MARK_OVERDUE: &str = "UPDATE cards SET overdue_at = $2, updated_at = $2
     WHERE id = $1 AND overdue_at IS NULL
       AND state IN ('issued', 'acknowledged', 'in_progress')";

/// Up to 500 open cards past their deadline at `now` not yet marked, locked (skipping
/// those another sweeper holds).
pub async fn overdue(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Vec<OverdueRow>, sqlx::Error> {
    sqlx::query_as::<_, OverdueRow>(OVERDUE)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
}

/// Marks an open card overdue once; false when it was already (or is no longer open).
pub async fn mark_overdue(
    tx: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(MARK_OVERDUE)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card::{Command, accepting};

    /// The sweep selects exactly the states in which a card can fall overdue.
    #[test]
    fn the_overdue_sweep_selects_what_the_domain_accepts() {
        let names: Vec<String> = accepting(Command::MarkOverdue)
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let list = format!("state IN ({})", names.join(", "));
        assert!(OVERDUE.contains(&list), "{list}");
        assert!(MARK_OVERDUE.contains(&list), "{list}");
    }
}
