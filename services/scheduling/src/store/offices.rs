//! Offices, their people and their versioned reception rules.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::domain::plan::{Person, RuleVersion};
use crate::domain::roster::DutySpec;
use crate::domain::rules::{OfficeRefs, RuleInput};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfficeRow {
    pub id: String,
    pub name: String,
    pub jurisdiction_code: String,
    pub kind: String,
    pub place: String,
    pub notice_days: i32,
    pub follow_up_hours: i32,
    pub duty: sqlx::types::Json<DutySpec>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRow {
    pub id: String,
    pub name: String,
    pub post: String,
    pub role: String,
}

impl PersonRow {
    pub fn person(&self) -> Person {
        Person {
            id: self.id.clone(),
            name: self.name.clone(),
            post: self.post.clone(),
            leader: self.role == "leader",
        }
    }
}

const OFFICE_COLS: &str =
    "id, name, jurisdiction_code, kind, place, notice_days, follow_up_hours, duty, updated_at";

pub async fn office<'e, E: PgExecutor<'e>>(
    ex: E,
    id: &str,
) -> Result<Option<OfficeRow>, sqlx::Error> {
    sqlx::query_as::<_, OfficeRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {OFFICE_COLS} FROM offices WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn offices<'e, E: PgExecutor<'e>>(
    ex: E,
    under: Option<&str>,
) -> Result<Vec<OfficeRow>, sqlx::Error> {
    sqlx::query_as::<_, OfficeRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {OFFICE_COLS} FROM offices WHERE $1::text IS NULL OR jurisdiction_code LIKE $1 || '%'
         ORDER BY jurisdiction_code, id"
    )))
    .bind(under)
    .fetch_all(ex)
    .await
}

/// The office whose follow-up period applies to a case in `code`: the deepest office
/// whose jurisdiction contains it.
pub async fn office_for_code(
    tx: &mut PgConnection,
    code: &str,
) -> Result<Option<OfficeRow>, sqlx::Error> {
    sqlx::query_as::<_, OfficeRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {OFFICE_COLS} FROM offices WHERE $1 LIKE jurisdiction_code || '%'
         ORDER BY length(jurisdiction_code) DESC, kind IN ('village', 'township', 'county') DESC, id LIMIT 1"
    )))
    .bind(code)
    .fetch_optional(&mut *tx)
    .await
}

pub async fn people<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
) -> Result<Vec<PersonRow>, sqlx::Error> {
    sqlx::query_as::<_, PersonRow>(
        "SELECT id, name, post, role FROM people WHERE office_id = $1 ORDER BY id",
    )
    .bind(office)
    .fetch_all(ex)
    .await
}

/// The office and its people as given in a PUT.
pub struct NewOffice<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub jurisdiction_code: &'a str,
    pub kind: &'a str,
    pub place: &'a str,
    pub notice_days: i32,
    pub follow_up_hours: i32,
    pub duty: &'a DutySpec,
    pub people: &'a [Person],
    pub at: DateTime<Utc>,
}

/// Creates or replaces an office with its people; true when it was created.
pub async fn put_office(tx: &mut PgConnection, o: &NewOffice<'_>) -> Result<bool, sqlx::Error> {
    let created: bool = sqlx::query_scalar(
        "INSERT INTO offices (id, name, jurisdiction_code, kind, place, notice_days, follow_up_hours,
             duty, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, jurisdiction_code = EXCLUDED.jurisdiction_code,
             kind = EXCLUDED.kind, place = EXCLUDED.place, notice_days = EXCLUDED.notice_days,
             follow_up_hours = EXCLUDED.follow_up_hours, duty = EXCLUDED.duty, updated_at = EXCLUDED.updated_at
         RETURNING (xmax = 0)",
    )
    .bind(o.id)
    .bind(o.name)
    .bind(o.jurisdiction_code)
    .bind(o.kind)
    .bind(o.place)
    .bind(o.notice_days)
    .bind(o.follow_up_hours)
    .bind(sqlx::types::Json(o.duty))
    .bind(o.at)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM people WHERE office_id = $1")
        .bind(o.id)
        .execute(&mut *tx)
        .await?;
    let ids: Vec<&str> = o.people.iter().map(|p| p.id.as_str()).collect();
    let names: Vec<&str> = o.people.iter().map(|p| p.name.as_str()).collect();
    let posts: Vec<&str> = o.people.iter().map(|p| p.post.as_str()).collect();
    let roles: Vec<&str> = o
        .people
        .iter()
        .map(|p| if p.leader { "leader" } else { "staff" })
        .collect();
    sqlx::query(
        "INSERT INTO people (office_id, id, name, post, role)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[])",
    )
    .bind(o.id)
    .bind(&ids)
    .bind(&names)
    .bind(&posts)
    .bind(&roles)
    .execute(&mut *tx)
    .await?;
    Ok(created)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub id: String,
    pub version: i32,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub spec: sqlx::types::Json<RuleInput>,
}

/// Every version of every rule of the office.
pub async fn rule_rows<'e, E: PgExecutor<'e>>(
    ex: E,
    office: &str,
) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as::<_, RuleRow>(
        "SELECT id, version, effective_from, effective_to, spec FROM rules
         WHERE office_id = $1 ORDER BY id, version",
    )
    .bind(office)
    .fetch_all(ex)
    .await
}

/// The rule versions of an office, parsed (a stored rule that no longer validates —
/// e.g. a leader who left — is left out, and named in `broken`).
pub fn parse_rules(rows: &[RuleRow], people: &[Person]) -> (Vec<RuleVersion>, Vec<String>) {
    let refs_people: Vec<(String, String, bool)> = people
        .iter()
        .map(|p| (p.id.clone(), p.post.clone(), p.leader))
        .collect();
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut out = Vec::new();
    let mut broken = Vec::new();
    for r in rows {
        let refs = OfficeRefs {
            people: &refs_people,
            rules: &ids,
        };
        match r.spec.0.validate(&refs) {
            Ok(spec) => out.push(RuleVersion {
                id: r.id.clone(),
                version: r.version,
                effective_from: r.effective_from,
                effective_to: r.effective_to,
                spec,
            }),
            Err(_) => broken.push(format!("{} v{}", r.id, r.version)),
        }
    }
    (out, broken)
}

/// An office's people and parsed rule versions (what plans and listings work from).
pub async fn model(
    conn: &mut PgConnection,
    office: &str,
) -> Result<(Vec<Person>, Vec<RuleVersion>), sqlx::Error> {
    let people: Vec<Person> = people(&mut *conn, office)
        .await?
        .iter()
        .map(PersonRow::person)
        .collect();
    let rows = rule_rows(&mut *conn, office).await?;
    let (rules, _) = parse_rules(&rows, &people);
    Ok((people, rules))
}

/// Saves a rule as a new version from `effective_from` (the previous open version ends
/// there; a version starting on the same day is replaced). Returns the version number.
pub async fn put_rule(
    tx: &mut PgConnection,
    office: &str,
    id: &str,
    input: &RuleInput,
    kind: &str,
    policy: &str,
    at: DateTime<Utc>,
) -> Result<i32, sqlx::Error> {
    sqlx::query("DELETE FROM rules WHERE office_id = $1 AND id = $2 AND effective_from >= $3")
        .bind(office)
        .bind(id)
        .bind(input.effective_from)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE rules SET effective_to = $3
         WHERE office_id = $1 AND id = $2 AND (effective_to IS NULL OR effective_to > $3)",
    )
    .bind(office)
    .bind(id)
    .bind(input.effective_from)
    .execute(&mut *tx)
    .await?;
    let version: i32 = sqlx::query_scalar(
        "INSERT INTO rules (office_id, id, version, effective_from, kind, holiday_policy, spec, created_at)
         SELECT $1, $2, COALESCE(max(version), 0) + 1, $3, $4, $5, $6, $7
         FROM rules WHERE office_id = $1 AND id = $2
         RETURNING version",
    )
    .bind(office)
    .bind(id)
    .bind(input.effective_from)
    .bind(kind)
    .bind(policy)
    .bind(sqlx::types::Json(input))
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    Ok(version)
}

/// Locks the office row (serialises plan and session changes of one office).
pub async fn lock(tx: &mut PgConnection, office: &str) -> Result<Option<OfficeRow>, sqlx::Error> {
    sqlx::query_as::<_, OfficeRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {OFFICE_COLS} FROM offices WHERE id = $1 FOR UPDATE"
    )))
    .bind(office)
    .fetch_optional(&mut *tx)
    .await
}
