//! Routing's view of each case, its history and its issue groups.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::{CaseState, Extension, Pending, Workbench};

/// The columns every read of a case takes.
const CASE_COLUMNS: &str = "id, registration_no, category, matter_code, tier, jurisdiction_code,
    unit_id, unit_name, status, trace_id, registered_at, updated_at, dispatched_at,
    excluded_unit_id, assisting_unit_ids, leader_id, important, collective, confidential,
    skip_level, office_code, rule_id, rule_version, superior_reference, superior_due_at,
    review_level, final, extension, pending, linked_to, group_id, reply_outcome";

/// A case as the workbench shows it (no personal data: routing holds none).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = CaseView)]
pub struct CaseRow {
    pub id: Uuid,
    pub registration_no: String,
    pub category: String,
    pub matter_code: String,
    pub tier: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub unit_name: Option<String>,
    pub status: String,
    pub trace_id: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub excluded_unit_id: Option<String>,
    pub assisting_unit_ids: Vec<String>,
    pub leader_id: Option<String>,
    pub important: bool,
    pub collective: bool,
    pub confidential: bool,
    pub skip_level: bool,
    pub office_code: Option<String>,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub superior_reference: Option<String>,
    pub superior_due_at: Option<DateTime<Utc>>,
    pub review_level: i16,
    #[serde(rename = "rereview_concluded")]
    #[sqlx(rename = "final")]
    pub final_: bool,
    pub extension: String,
    pub pending: Option<serde_json::Value>,
    pub linked_to: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub reply_outcome: Option<String>,
}

impl CaseRow {
    pub fn unit(&self) -> &str {
        self.unit_id.as_deref().unwrap_or_default()
    }

    /// The pending request's field `k` as text ("" when absent).
    pub fn pending_str(&self, k: &str) -> String {
        self.pending
            .as_ref()
            .and_then(|p| p[k].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// The case as the workbench's state machine sees it. A status this version does
    /// not know cannot be stored (the CHECK constraints); it would read as a closed case.
    pub fn workbench(&self) -> Workbench {
        let status = CaseState::parse(&self.status).unwrap_or(CaseState::Closed);
        let extension = Extension::parse(&self.extension).unwrap_or(Extension::None);
        let pending = match &self.pending {
            None | Some(serde_json::Value::Null) => Pending::None,
            Some(p) => match p["kind"].as_str() {
                Some("transfer") => p["from_status"]
                    .as_str()
                    .and_then(CaseState::parse)
                    .map_or(Pending::Unknown, |back_to| Pending::Transfer { back_to }),
                Some("extension") => Pending::Extension {
                    days: u32::try_from(p["days"].as_i64().unwrap_or(0)).unwrap_or(0),
                },
                _ => Pending::Unknown,
            },
        };
        Workbench::new(status, extension, pending)
    }

    /// What the visibility rule needs of the case.
    pub fn access(&self) -> xf_access::Case<'_> {
        xf_access::Case {
            matter_code: &self.matter_code,
            jurisdiction_code: &self.jurisdiction_code,
            lead_unit: self.unit_id.as_deref(),
            assisting_units: &self.assisting_unit_ids,
            excluded_unit: self.excluded_unit_id.as_deref(),
            confidential: self.confidential,
        }
    }
}

/// One case, locked for the transaction's move when `lock`.
pub async fn load(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<CaseRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as::<_, CaseRow>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Whose cases a worklist shows.
pub enum Whose {
    /// The unit's, as lead.
    Lead(String),
    /// The unit's, as assisting unit.
    Assisting(String),
    /// Everything under a jurisdiction (overseers), optionally one unit's.
    Under {
        jurisdiction: String,
        unit: Option<String>,
    },
}

/// A worklist's filter, newest dispatch first.
pub struct ListFilter {
    pub whose: Whose,
    /// The accused unit never sees the accusation, whatever its role.
    pub not_excluding: Option<String>,
    pub jurisdiction: Option<String>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub tier: Option<String>,
    pub skip_level: Option<bool>,
    /// Keyset: strictly before this (dispatched_at, id).
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list<'e, E: PgExecutor<'e>>(
    ex: E,
    f: &ListFilter,
) -> Result<Vec<CaseRow>, sqlx::Error> {
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {CASE_COLUMNS} FROM cases WHERE TRUE"));
    match &f.whose {
        Whose::Assisting(unit) => {
            qb.push(" AND assisting_unit_ids @> ARRAY[")
                .push_bind(unit.clone())
                .push("]::text[]");
        }
        Whose::Lead(unit) => {
            qb.push(" AND unit_id = ").push_bind(unit.clone());
        }
        Whose::Under { jurisdiction, unit } => {
            qb.push(" AND jurisdiction_code LIKE ")
                .push_bind(format!("{jurisdiction}%"));
            if let Some(unit) = unit {
                qb.push(" AND unit_id = ").push_bind(unit.clone());
            }
        }
    }
    if let Some(unit) = &f.not_excluding {
        qb.push(" AND excluded_unit_id IS DISTINCT FROM ")
            .push_bind(unit.clone());
    }
    if let Some(j) = &f.jurisdiction {
        qb.push(" AND jurisdiction_code LIKE ")
            .push_bind(format!("{j}%"));
    }
    if let Some(s) = &f.status {
        qb.push(" AND status = ").push_bind(s.clone());
    }
    if let Some(c) = &f.category {
        qb.push(" AND category = ").push_bind(c.clone());
    }
    if let Some(t) = &f.tier {
        qb.push(" AND tier = ").push_bind(t.clone());
    }
    if let Some(s) = f.skip_level {
        qb.push(" AND skip_level = ").push_bind(s);
    }
    if let Some((at, id)) = f.before {
        qb.push(" AND (dispatched_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" ORDER BY dispatched_at DESC, id DESC LIMIT ")
        .push_bind(f.limit);
    qb.build_query_as::<CaseRow>().fetch_all(ex).await
}

/// Appends one step to a case's routing history.
pub async fn history(
    tx: &mut PgConnection,
    case_id: Uuid,
    at: DateTime<Utc>,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO case_history (case_id, at, action, detail) VALUES ($1, $2, $3, $4)")
        .bind(case_id)
        .bind(at)
        .bind(action)
        .bind(detail)
        .execute(tx)
        .await?;
    Ok(())
}

/// One step of a case's routing history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HistoryRow {
    pub at: DateTime<Utc>,
    pub action: String,
    pub detail: serde_json::Value,
}

pub async fn history_of(conn: &mut PgConnection, id: Uuid) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as("SELECT at, action, detail FROM case_history WHERE case_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(conn)
        .await
}

/// A possible collective issue and its cases.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: Uuid,
    pub jurisdiction_code: String,
    pub category: String,
    pub first_case_id: Uuid,
    pub member_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub case_ids: Vec<Uuid>,
}

/// The groups under `scope`, without the cases accusing `unit` (it never sees them).
pub async fn issue_groups<'e, E: PgExecutor<'e>>(
    ex: E,
    scope: &str,
    unit: Option<&str>,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT g.id, g.jurisdiction_code, g.category, g.first_case_id, g.member_count,
                g.created_at, g.updated_at,
                array_agg(c.id ORDER BY c.registered_at) AS case_ids
         FROM issue_groups g JOIN cases c ON c.group_id = g.id
         WHERE g.jurisdiction_code LIKE $1
           AND ($2::text IS NULL OR c.excluded_unit_id IS DISTINCT FROM $2)
         GROUP BY g.id ORDER BY g.updated_at DESC LIMIT 200",
    )
    .bind(format!("{scope}%"))
    .bind(unit)
    .fetch_all(ex)
    .await
}

/// Whether the pending transfer goes back to a unit the case already left.
pub async fn transfer_goes_back<'e, E: PgExecutor<'e>>(
    ex: E,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM case_history h JOIN cases c ON c.id = h.case_id
             WHERE h.case_id = $1 AND h.action = 'transferred'
               AND h.detail ->> 'from_unit_id' = c.pending ->> 'to_unit_id')",
    )
    .bind(id)
    .fetch_one(ex)
    .await
}

/// Whether the case is an anonymous item (false for an unknown case).
pub async fn anonymous<'e, E: PgExecutor<'e>>(ex: E, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE((SELECT anonymous FROM cases WHERE id = $1), FALSE)")
        .bind(id)
        .fetch_one(ex)
        .await
}

/// The latest written reply.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplyRow {
    pub reply_outcome: Option<String>,
    pub reply_text: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
}

pub async fn reply_of(conn: &mut PgConnection, id: Uuid) -> Result<ReplyRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.reply_outcome, c.reply_text,
                (SELECT h.at FROM case_history h WHERE h.case_id = c.id AND h.action = 'replied'
                 ORDER BY h.id DESC LIMIT 1) AS replied_at
         FROM cases c WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await
}

/// A new lead unit: id, name, jurisdiction code and its tier.
pub struct NewUnit {
    pub id: String,
    pub name: String,
    pub jurisdiction_code: String,
    pub tier: &'static str,
}

/// The columns a workbench move writes.
pub struct Moved {
    pub id: Uuid,
    pub status: CaseState,
    pub extension: Extension,
    pub pending: Option<serde_json::Value>,
    pub reply_outcome: Option<String>,
    pub reply_text: Option<String>,
    /// Set `final` (it is never unset here).
    pub conclude: bool,
    pub unit: Option<NewUnit>,
    pub at: DateTime<Utc>,
}

pub async fn write_move(tx: &mut PgConnection, m: &Moved) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cases SET status = $2, updated_at = $3, extension = $4, pending = $5,
             reply_outcome = COALESCE($6, reply_outcome), reply_text = COALESCE($7, reply_text),
             final = final OR $8, unit_id = COALESCE($9, unit_id),
             unit_name = COALESCE($10, unit_name), jurisdiction_code = COALESCE($11, jurisdiction_code),
             tier = COALESCE($12, tier), dispatched_at = COALESCE($13, dispatched_at)
         WHERE id = $1",
    )
    .bind(m.id)
    .bind(m.status.as_str())
    .bind(m.at)
    .bind(m.extension.as_str())
    .bind(&m.pending)
    .bind(&m.reply_outcome)
    .bind(&m.reply_text)
    .bind(m.conclude)
    .bind(m.unit.as_ref().map(|u| u.id.as_str()))
    .bind(m.unit.as_ref().map(|u| u.name.as_str()))
    .bind(m.unit.as_ref().map(|u| u.jurisdiction_code.as_str()))
    .bind(m.unit.as_ref().map(|u| u.tier))
    .bind(m.unit.as_ref().map(|_| m.at))
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn exists(tx: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cases WHERE id = $1)")
        .bind(id)
        .fetch_one(tx)
        .await
}

/// A case routing dispatches the first time.
pub struct NewCase<'a> {
    pub id: Uuid,
    pub registration_no: &'a str,
    pub category: &'a str,
    pub matter_code: &'a str,
    pub tier: &'a str,
    pub jurisdiction_code: &'a str,
    pub unit_id: &'a str,
    pub unit_name: &'a str,
    pub trace_id: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub excluded_unit_id: Option<&'a str>,
    pub assisting_unit_ids: &'a [String],
    pub leader_id: Option<&'a str>,
    pub important: bool,
    pub collective: bool,
    pub confidential: bool,
    pub skip_level: bool,
    pub office_code: Option<&'a str>,
    pub rule_id: &'a str,
    pub rule_version: i32,
    pub superior_reference: Option<&'a str>,
    pub superior_due_at: Option<DateTime<Utc>>,
    pub petitioner_pid: Option<&'a str>,
    pub signature: Vec<i32>,
    pub anonymous: bool,
}

pub async fn insert_dispatched(tx: &mut PgConnection, c: &NewCase<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cases (id, registration_no, category, matter_code, tier, jurisdiction_code,
             unit_id, unit_name, status, trace_id, registered_at, updated_at, dispatched_at,
             excluded_unit_id, assisting_unit_ids, leader_id, important, collective,
             confidential, skip_level, office_code, rule_id, rule_version, superior_reference,
             superior_due_at, petitioner_pid, signature, anonymous)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $27, $9, $10, $11, $11, $12, $13,
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)",
    )
    .bind(c.id)
    .bind(c.registration_no)
    .bind(c.category)
    .bind(c.matter_code)
    .bind(c.tier)
    .bind(c.jurisdiction_code)
    .bind(c.unit_id)
    .bind(c.unit_name)
    .bind(&c.trace_id)
    .bind(c.registered_at)
    .bind(c.at)
    .bind(c.excluded_unit_id)
    .bind(c.assisting_unit_ids)
    .bind(c.leader_id)
    .bind(c.important)
    .bind(c.collective)
    .bind(c.confidential)
    .bind(c.skip_level)
    .bind(c.office_code)
    .bind(c.rule_id)
    .bind(c.rule_version)
    .bind(c.superior_reference)
    .bind(c.superior_due_at)
    .bind(c.petitioner_pid)
    .bind(&c.signature)
    .bind(c.anonymous)
    .bind(CaseState::Dispatched.as_str())
    .execute(tx)
    .await?;
    Ok(())
}

/// A repeat petition, stored with its original's unit.
pub struct RepeatCase<'a> {
    pub id: Uuid,
    pub registration_no: &'a str,
    pub category: &'a str,
    pub matter_code: &'a str,
    pub tier: &'a str,
    pub jurisdiction_code: &'a str,
    pub unit_id: Option<&'a str>,
    pub unit_name: Option<&'a str>,
    pub status: CaseState,
    pub trace_id: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub petitioner_pid: &'a str,
    pub signature: Vec<i32>,
    pub linked_to: Uuid,
    pub office_code: &'a str,
    pub important: bool,
    pub collective: bool,
    pub confidential: bool,
    pub excluded_unit_id: Option<&'a str>,
}

pub async fn insert_repeat(tx: &mut PgConnection, c: &RepeatCase<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cases (id, registration_no, category, matter_code, tier, jurisdiction_code,
             unit_id, unit_name, status, trace_id, registered_at, updated_at, dispatched_at,
             petitioner_pid, signature, linked_to, office_code, important, collective,
             confidential, excluded_unit_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16,
             $17, $18, $19, $20)",
    )
    .bind(c.id)
    .bind(c.registration_no)
    .bind(c.category)
    .bind(c.matter_code)
    .bind(c.tier)
    .bind(c.jurisdiction_code)
    .bind(c.unit_id)
    .bind(c.unit_name)
    .bind(c.status.as_str())
    .bind(&c.trace_id)
    .bind(c.registered_at)
    .bind(c.at)
    .bind(c.petitioner_pid)
    .bind(&c.signature)
    .bind(c.linked_to)
    .bind(c.office_code)
    .bind(c.important)
    .bind(c.collective)
    .bind(c.confidential)
    .bind(c.excluded_unit_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// An earlier case a new one may repeat.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RepeatCandidate {
    pub id: Uuid,
    pub status: String,
    #[sqlx(rename = "final")]
    pub final_: bool,
    pub signature: Vec<i32>,
    pub linked_to: Option<Uuid>,
}

/// The same petitioner's earlier cases of the category: recent, still open, or final.
pub async fn repeat_candidates(
    tx: &mut PgConnection,
    id: Uuid,
    pid: &str,
    category: &str,
    since: DateTime<Utc>,
) -> Result<Vec<RepeatCandidate>, sqlx::Error> {
    let open: Vec<&str> = CaseState::OPEN.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(
        "SELECT id, status, final, signature, linked_to FROM cases
         WHERE petitioner_pid = $1 AND category = $2 AND id <> $3
           AND (registered_at >= $4 OR status = ANY($5) OR final)
         ORDER BY registered_at DESC LIMIT 100",
    )
    .bind(pid)
    .bind(category)
    .bind(id)
    .bind(since)
    .bind(&open)
    .fetch_all(tx)
    .await
}

/// A case's status and whether its re-review concluded.
pub async fn status_and_final(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<(String, bool), sqlx::Error> {
    sqlx::query_as("SELECT status, final FROM cases WHERE id = $1")
        .bind(id)
        .fetch_one(tx)
        .await
}

/// Where a case is handled.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Handling {
    pub unit_id: Option<String>,
    pub unit_name: Option<String>,
    pub jurisdiction_code: String,
}

pub async fn handling(tx: &mut PgConnection, id: Uuid) -> Result<Handling, sqlx::Error> {
    sqlx::query_as("SELECT unit_id, unit_name, jurisdiction_code FROM cases WHERE id = $1")
        .bind(id)
        .fetch_one(tx)
        .await
}

/// Another petitioner's recent case in the same place and category.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupCandidate {
    pub id: Uuid,
    pub signature: Vec<i32>,
    pub group_id: Option<Uuid>,
}

pub async fn group_candidates(
    tx: &mut PgConnection,
    id: Uuid,
    place: &str,
    category: &str,
    pid: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Vec<GroupCandidate>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, signature, group_id FROM cases
         WHERE matter_code = $1 AND category = $2 AND id <> $3 AND registered_at >= $4
           AND petitioner_pid IS DISTINCT FROM $5 AND linked_to IS NULL
         ORDER BY registered_at DESC LIMIT 200",
    )
    .bind(place)
    .bind(category)
    .bind(id)
    .bind(since)
    .bind(pid)
    .fetch_all(tx)
    .await
}

/// An issue group after a member joined.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupHead {
    pub id: Uuid,
    pub first_case_id: Uuid,
    pub member_count: i32,
}

pub async fn join_group(
    tx: &mut PgConnection,
    group: Uuid,
    at: DateTime<Utc>,
) -> Result<GroupHead, sqlx::Error> {
    sqlx::query_as(
        "UPDATE issue_groups SET member_count = member_count + 1, updated_at = $2
         WHERE id = $1 RETURNING id, first_case_id, member_count",
    )
    .bind(group)
    .bind(at)
    .fetch_one(tx)
    .await
}

/// A new group of two: `first` (already stored) and the case joining it.
pub async fn new_group(
    tx: &mut PgConnection,
    place: &str,
    category: &str,
    first: Uuid,
    at: DateTime<Utc>,
) -> Result<GroupHead, sqlx::Error> {
    let g = Uuid::now_v7();
    set_group(tx, first, g).await?;
    sqlx::query_as(
        "INSERT INTO issue_groups (id, jurisdiction_code, category, first_case_id,
             member_count, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 2, $5, $5) RETURNING id, first_case_id, member_count",
    )
    .bind(g)
    .bind(place)
    .bind(category)
    .bind(first)
    .bind(at)
    .fetch_one(tx)
    .await
}

pub async fn set_group(tx: &mut PgConnection, id: Uuid, group: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE cases SET group_id = $2 WHERE id = $1")
        .bind(id)
        .bind(group)
        .execute(tx)
        .await?;
    Ok(())
}

/// What moving a case up one tier reads of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Escalating {
    pub status: String,
    pub category: String,
    pub matter_code: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub collective: bool,
    pub important: bool,
    pub confidential: bool,
    pub excluded_unit_id: Option<String>,
    pub review_level: i16,
    pub office_code: Option<String>,
    pub extension: String,
}

pub async fn for_escalation(
    tx: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Escalating>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, category, matter_code, jurisdiction_code, unit_id, collective,
                important, confidential, excluded_unit_id, review_level, office_code, extension
         FROM cases WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Hands a case above the county, to the city level.
pub async fn hand_to_city(
    tx: &mut PgConnection,
    id: Uuid,
    unit_id: &str,
    unit_name: &str,
    review_level: i16,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cases SET status = $5, tier = $6, unit_id = $2,
             unit_name = $7, review_level = $3, pending = NULL,
             updated_at = $4, dispatched_at = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(unit_id)
    .bind(review_level)
    .bind(at)
    .bind(CaseState::City.as_str())
    .bind(crate::domain::CaseTier::City.as_str())
    .bind(unit_name)
    .execute(tx)
    .await?;
    Ok(())
}

/// A new decision's columns for a case routing already holds.
pub struct Redispatched<'a> {
    pub id: Uuid,
    pub tier: &'a str,
    pub jurisdiction_code: &'a str,
    pub unit_id: &'a str,
    pub unit_name: &'a str,
    pub assisting_unit_ids: &'a [String],
    pub leader_id: Option<&'a str>,
    pub rule_id: &'a str,
    pub rule_version: i32,
    pub review_level: i16,
    pub skip_level: bool,
    pub at: DateTime<Utc>,
}

pub async fn redispatched(tx: &mut PgConnection, r: &Redispatched<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cases SET status = $13, tier = $2, jurisdiction_code = $3,
             unit_id = $4, unit_name = $5, assisting_unit_ids = $6, leader_id = $7,
             rule_id = $8, rule_version = $9, review_level = $10, extension = $14,
             pending = NULL, reply_outcome = NULL, updated_at = $11, dispatched_at = $11,
             skip_level = skip_level OR $12, linked_to = NULL
         WHERE id = $1",
    )
    .bind(r.id)
    .bind(r.tier)
    .bind(r.jurisdiction_code)
    .bind(r.unit_id)
    .bind(r.unit_name)
    .bind(r.assisting_unit_ids)
    .bind(r.leader_id)
    .bind(r.rule_id)
    .bind(r.rule_version)
    .bind(r.review_level)
    .bind(r.at)
    .bind(r.skip_level)
    .bind(CaseState::Dispatched.as_str())
    .bind(Extension::None.as_str())
    .execute(tx)
    .await?;
    Ok(())
}
