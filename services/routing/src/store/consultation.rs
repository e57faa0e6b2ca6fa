//! The joint consultation's opinions and meeting records, per handling round.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// One unit's written opinion.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OpinionRow {
    pub unit_id: String,
    pub text: String,
    #[serde(rename = "by")]
    pub by_sub: String,
    pub at: DateTime<Utc>,
}

/// The meeting's record (会商纪要).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MeetingRow {
    pub held_at: DateTime<Utc>,
    pub participants: Vec<String>,
    pub minutes: String,
    #[serde(rename = "by")]
    pub by_sub: String,
    pub at: DateTime<Utc>,
}

pub async fn opinions(
    conn: &mut PgConnection,
    case_id: Uuid,
    round: i16,
) -> Result<Vec<OpinionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT unit_id, text, by_sub, at FROM consultation_opinions
         WHERE case_id = $1 AND review_level = $2 ORDER BY at",
    )
    .bind(case_id)
    .bind(round)
    .fetch_all(conn)
    .await
}

pub async fn meeting(
    conn: &mut PgConnection,
    case_id: Uuid,
    round: i16,
) -> Result<Option<MeetingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT held_at, participants, minutes, by_sub, at FROM consultation_meetings
         WHERE case_id = $1 AND review_level = $2",
    )
    .bind(case_id)
    .bind(round)
    .fetch_optional(conn)
    .await
}

/// Given again, an opinion replaces the unit's earlier one for the round.
pub struct Opinion<'a> {
    pub case_id: Uuid,
    pub round: i16,
    pub unit_id: &'a str,
    pub text: &'a str,
    pub by: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn put_opinion(conn: &mut PgConnection, o: &Opinion<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consultation_opinions (case_id, review_level, unit_id, text, by_sub, at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (case_id, review_level, unit_id) DO UPDATE SET text = EXCLUDED.text,
             by_sub = EXCLUDED.by_sub, at = EXCLUDED.at",
    )
    .bind(o.case_id)
    .bind(o.round)
    .bind(o.unit_id)
    .bind(o.text)
    .bind(o.by)
    .bind(o.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Recorded again, the meeting replaces the round's earlier record.
pub struct Meeting<'a> {
    pub case_id: Uuid,
    pub round: i16,
    pub held_at: DateTime<Utc>,
    pub participants: &'a [String],
    pub minutes: &'a str,
    pub by: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn put_meeting(conn: &mut PgConnection, m: &Meeting<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consultation_meetings (case_id, review_level, held_at, participants, minutes, by_sub, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (case_id, review_level) DO UPDATE SET held_at = EXCLUDED.held_at,
             participants = EXCLUDED.participants, minutes = EXCLUDED.minutes,
             by_sub = EXCLUDED.by_sub, at = EXCLUDED.at",
    )
    .bind(m.case_id)
    .bind(m.round)
    .bind(m.held_at)
    .bind(m.participants)
    .bind(m.minutes)
    .bind(m.by)
    .bind(m.at)
    .execute(conn)
    .await?;
    Ok(())
}
