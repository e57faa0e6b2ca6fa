//! Units and responsibility rules: read into the shared snapshot, versioned writes.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::domain::catalog::{Catalog, CompetentTier, Rule, Unit, UnitKind};

/// A `units` row.
#[derive(Debug, Clone, sqlx::FromRow)]
struct UnitRow {
    id: String,
    version: i32,
    name: String,
    kind: String,
    jurisdiction_code: String,
    categories: Vec<String>,
    leader_in_charge: Option<String>,
    top_leader: Option<String>,
    active: bool,
}

impl From<UnitRow> for Unit {
    fn from(r: UnitRow) -> Unit {
        Unit {
            kind: UnitKind::parse(&r.kind).unwrap_or(UnitKind::Department),
            id: r.id,
            version: r.version,
            name: r.name,
            jurisdiction_code: r.jurisdiction_code,
            categories: r.categories,
            leader_in_charge: r.leader_in_charge,
            top_leader: r.top_leader,
            active: r.active,
            implicit: false,
        }
    }
}

/// A `rules` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    id: String,
    version: i32,
    category: Option<String>,
    jurisdiction_code: Option<String>,
    flags: Vec<String>,
    competent_tier: String,
    lead_unit_id: Option<String>,
    lead_unit_kind: Option<String>,
    assisting_unit_ids: Vec<String>,
    note: String,
    effective_from: DateTime<Utc>,
    effective_to: Option<DateTime<Utc>>,
}

impl From<RuleRow> for Rule {
    fn from(r: RuleRow) -> Rule {
        Rule {
            competent_tier: CompetentTier::parse(&r.competent_tier).unwrap_or(CompetentTier::Place),
            lead_unit_kind: r.lead_unit_kind.as_deref().and_then(UnitKind::parse),
            id: r.id,
            version: r.version,
            category: r.category,
            jurisdiction_code: r.jurisdiction_code,
            flags: r.flags,
            lead_unit_id: r.lead_unit_id,
            assisting_unit_ids: r.assisting_unit_ids,
            note: r.note,
            effective_from: r.effective_from,
            effective_to: r.effective_to,
        }
    }
}

const RULE_COLUMNS: &str = "id, version, category, jurisdiction_code, flags, competent_tier,
    lead_unit_id, lead_unit_kind, assisting_unit_ids, note, effective_from, effective_to";

/// Reads the whole catalog.
pub async fn load(conn: &mut PgConnection) -> Result<Catalog, sqlx::Error> {
    let version: i64 = sqlx::query_scalar("SELECT version FROM catalog_version")
        .fetch_one(&mut *conn)
        .await?;
    let units = sqlx::query_as::<_, UnitRow>(
        "SELECT id, version, name, kind, jurisdiction_code, categories, leader_in_charge,
                top_leader, active FROM units",
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(Unit::from)
    .collect();
    let rules = sqlx::query_as::<_, RuleRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM rules"
    )))
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(Rule::from)
    .collect();
    Ok(Catalog::new(version, units, rules))
}

/// The latest version of a rule.
pub async fn latest_rule(conn: &mut PgConnection, id: &str) -> Result<Option<Rule>, sqlx::Error> {
    Ok(sqlx::query_as::<_, RuleRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM rules WHERE id = $1 ORDER BY version DESC LIMIT 1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .map(Rule::from))
}

/// Every version of every other rule.
pub async fn other_rules(conn: &mut PgConnection, id: &str) -> Result<Vec<Rule>, sqlx::Error> {
    Ok(sqlx::query_as::<_, RuleRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM rules WHERE id <> $1"
    )))
    .bind(id)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(Rule::from)
    .collect())
}

/// One writer of rules at a time, so that two rules saved together cannot be ambiguous.
pub async fn lock_rules(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("LOCK TABLE rules IN EXCLUSIVE MODE")
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends one version of a rule at `at`.
pub async fn end_rule(
    conn: &mut PgConnection,
    id: &str,
    version: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE rules SET effective_to = $3 WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(version)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a new version of a rule.
pub async fn insert_rule(
    conn: &mut PgConnection,
    r: &Rule,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO rules (id, version, category, jurisdiction_code, flags, competent_tier,
             lead_unit_id, lead_unit_kind, assisting_unit_ids, note, effective_from, effective_to,
             created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&r.id)
    .bind(r.version)
    .bind(&r.category)
    .bind(&r.jurisdiction_code)
    .bind(&r.flags)
    .bind(r.competent_tier.as_str())
    .bind(&r.lead_unit_id)
    .bind(r.lead_unit_kind.map(UnitKind::as_str))
    .bind(&r.assisting_unit_ids)
    .bind(&r.note)
    .bind(r.effective_from)
    .bind(r.effective_to)
    .bind(at)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(())
}

/// The latest version of a rule, locked for retiring it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleEnd {
    pub version: i32,
    pub jurisdiction_code: Option<String>,
    pub effective_from: DateTime<Utc>,
    pub effective_to: Option<DateTime<Utc>>,
}

pub async fn rule_for_retiring(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<RuleEnd>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, jurisdiction_code, effective_from, effective_to FROM rules
         WHERE id = $1 ORDER BY version DESC LIMIT 1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A unit's current version and place, locked for the next version.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitHead {
    pub version: i32,
    pub jurisdiction_code: String,
}

pub async fn unit_for_update(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<UnitHead>, sqlx::Error> {
    sqlx::query_as("SELECT version, jurisdiction_code FROM units WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// A unit as an administrator writes it.
pub struct UnitWrite<'a> {
    pub id: &'a str,
    pub version: i32,
    pub name: &'a str,
    pub kind: &'a str,
    pub jurisdiction_code: &'a str,
    pub categories: &'a [String],
    pub leader_in_charge: Option<&'a str>,
    pub top_leader: Option<&'a str>,
    pub active: bool,
    pub at: DateTime<Utc>,
    pub by: &'a str,
}

/// Stores the unit's new version and its document in the version history.
pub async fn put_unit(
    conn: &mut PgConnection,
    u: &UnitWrite<'_>,
    doc: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO units (id, version, name, kind, jurisdiction_code, categories,
             leader_in_charge, top_leader, active, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name,
             kind = EXCLUDED.kind, jurisdiction_code = EXCLUDED.jurisdiction_code,
             categories = EXCLUDED.categories, leader_in_charge = EXCLUDED.leader_in_charge,
             top_leader = EXCLUDED.top_leader, active = EXCLUDED.active,
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
    )
    .bind(u.id)
    .bind(u.version)
    .bind(u.name)
    .bind(u.kind)
    .bind(u.jurisdiction_code)
    .bind(u.categories)
    .bind(u.leader_in_charge)
    .bind(u.top_leader)
    .bind(u.active)
    .bind(u.at)
    .bind(u.by)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO unit_versions (id, version, doc, changed_at, changed_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(u.id)
    .bind(u.version)
    .bind(doc)
    .bind(u.at)
    .bind(u.by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One version of a unit's document.
pub async fn unit_doc(
    conn: &mut PgConnection,
    id: &str,
    version: i32,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT doc FROM unit_versions WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(version)
        .fetch_optional(conn)
        .await
}

/// One entry of a unit's version history.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct UnitVersion {
    pub version: i32,
    pub doc: serde_json::Value,
    pub changed_at: DateTime<Utc>,
    pub changed_by: String,
}

pub async fn unit_versions<'e, E: PgExecutor<'e>>(
    ex: E,
    id: &str,
) -> Result<Vec<UnitVersion>, sqlx::Error> {
    sqlx::query_as(
        "SELECT version, doc, changed_at, changed_by FROM unit_versions WHERE id = $1 ORDER BY version",
    )
    .bind(id)
    .fetch_all(ex)
    .await
}

/// Bumps the catalog version inside the writer's transaction.
pub async fn bump(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("UPDATE catalog_version SET version = version + 1 RETURNING version")
        .fetch_one(conn)
        .await
}

/// The shared, reloadable snapshot.
#[derive(Clone, Default)]
pub struct Shared {
    inner: Arc<RwLock<Arc<Catalog>>>,
}

impl Shared {
    pub fn get(&self) -> Arc<Catalog> {
        match self.inner.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    pub fn set(&self, c: Catalog) {
        let c = Arc::new(c);
        match self.inner.write() {
            Ok(mut g) => *g = c,
            Err(p) => *p.into_inner() = c,
        }
    }
    /// The current snapshot, reloaded first when the stored version moved.
    pub async fn fresh(&self, conn: &mut PgConnection) -> Result<Arc<Catalog>, sqlx::Error> {
        let stored: i64 = sqlx::query_scalar("SELECT version FROM catalog_version")
            .fetch_one(&mut *conn)
            .await?;
        let cur = self.get();
        if cur.version == stored {
            return Ok(cur);
        }
        let c = load(conn).await?;
        self.set(c);
        Ok(self.get())
    }
    pub async fn reload(&self, pool: &PgPool) -> Result<Arc<Catalog>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let c = load(&mut conn).await?;
        self.set(c);
        Ok(self.get())
    }
}
