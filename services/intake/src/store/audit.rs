//! The read audit (R32): every read of a case's content or a petitioner's identity,
//! with who, when, which case, why and what was shown. Written in the transaction of
//! the read.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;
use xf_auth::Claims;
use xf_http::{FieldError, Problem};

/// What a read showed (the table's CHECK lists the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Identity,
    IdentityAndSealedContent,
    Case,
    CaseAndSealedContent,
}

impl Shown {
    pub fn as_str(self) -> &'static str {
        match self {
            Shown::Identity => "identity",
            Shown::IdentityAndSealedContent => "identity, confidential content",
            Shown::Case => "case",
            Shown::CaseAndSealedContent => "case, confidential content",
        }
    }
}

/// The stated reason of a read, trimmed: 4 to 200 characters.
pub fn reason(raw: &str) -> Result<&str, Problem> {
    let r = raw.trim();
    if (4..=200).contains(&r.chars().count()) {
        Ok(r)
    } else {
        Err(Problem::validation(vec![FieldError::new(
            "reason",
            "state why, in 4 to 200 characters",
        )]))
    }
}

/// Records one read.
pub async fn record(
    tx: &mut PgConnection,
    at: DateTime<Utc>,
    reader: &Claims,
    case_id: Uuid,
    reason: &str,
    shown: Shown,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO vault_audit (at, reader, reader_unit, reader_scope, case_id, reason, what)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(at)
    .bind(&reader.sub)
    .bind(&reader.unit)
    .bind(&reader.jurisdiction)
    .bind(case_id)
    .bind(reason)
    .bind(shown.as_str())
    .execute(tx)
    .await?;
    Ok(())
}
