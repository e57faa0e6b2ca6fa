//! The database agrees with the domain: every state and kind column takes exactly the
//! values of its Rust enum (the CHECK constraints of migration 1102). No broker needed.

use sqlx::PgPool;
use uuid::Uuid;
use xf_routing::domain::catalog::{CompetentTier, UnitKind};
use xf_routing::domain::{CaseState, CaseTier, Extension, ReplyOutcome};
use xf_testkit::Ctx;

/// Inserts one case with `column` set to `value` (the other columns valid), in a
/// transaction rolled back; the database's error code when refused.
async fn case_with(pool: &PgPool, column: &str, value: Option<&str>) -> Result<(), String> {
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    sqlx::query(
        "INSERT INTO cases (id, registration_no, category, matter_code, tier, jurisdiction_code,
             status, registered_at, updated_at, extension, reply_outcome)
         SELECT $1, 'r', 'land', '330122', 'county', '330122', 'dispatched', now(), now(),
             'none', NULL",
    )
    .bind(Uuid::now_v7())
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    let set = format!("UPDATE cases SET {column} = $1");
    let r = if column == "pending" {
        sqlx::query(sqlx::AssertSqlSafe(set))
            .bind(value.map(|k| serde_json::json!({"kind": k})))
            .execute(&mut *tx)
            .await
    } else {
        sqlx::query(sqlx::AssertSqlSafe(set))
            .bind(value)
            .execute(&mut *tx)
            .await
    };
    let _ = tx.rollback().await;
    r.map(|_| ()).map_err(code)
}

fn code(e: sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.code().map(|c| c.into_owned()))
        .unwrap_or_else(|| e.to_string())
}

async fn unit_with(pool: &PgPool, kind: &str) -> Result<(), String> {
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    let r = sqlx::query(
        "INSERT INTO units (id, version, name, kind, jurisdiction_code, updated_at, updated_by)
         VALUES ('u-check', 1, 'u', $1, '330122', now(), 't')",
    )
    .bind(kind)
    .execute(&mut *tx)
    .await;
    let _ = tx.rollback().await;
    r.map(|_| ()).map_err(code)
}

async fn rule_with(pool: &PgPool, tier: &str, kind: Option<&str>) -> Result<(), String> {
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    let r = sqlx::query(
        "INSERT INTO rules (id, version, competent_tier, lead_unit_kind, effective_from,
             created_at, created_by)
         VALUES ('r-check', 1, $1, $2, now(), now(), 't')",
    )
    .bind(tier)
    .bind(kind)
    .execute(&mut *tx)
    .await;
    let _ = tx.rollback().await;
    r.map(|_| ()).map_err(code)
}

const CHECK_VIOLATION: &str = "23514";

#[tokio::test]
async fn check_constraints_take_exactly_the_enums_values() {
    let ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_routing::Ext>(&xf_routing::binary(), &[])
        .expect("settings");
    let pool = xf_store::pool(&s.database).expect("pool");
    xf_store::migrate(&pool, &s.database.schema, xf_routing::migrator())
        .await
        .expect("migrations");

    let columns: [(&str, Vec<&str>, bool); 4] = [
        (
            "status",
            CaseState::ALL.iter().map(|s| s.as_str()).collect(),
            false,
        ),
        (
            "extension",
            Extension::ALL.iter().map(|s| s.as_str()).collect(),
            false,
        ),
        (
            "tier",
            CaseTier::ALL.iter().map(|s| s.as_str()).collect(),
            false,
        ),
        (
            "reply_outcome",
            ReplyOutcome::ALL.iter().map(|s| s.as_str()).collect(),
            true,
        ),
    ];
    for (column, values, nullable) in &columns {
        for v in values {
            assert_eq!(
                case_with(&pool, column, Some(v)).await,
                Ok(()),
                "{column} = {v}"
            );
        }
        for bogus in ["bogus", "", "Dispatched"] {
            assert_eq!(
                case_with(&pool, column, Some(bogus)).await,
                Err(CHECK_VIOLATION.to_owned()),
                "{column} = {bogus:?}"
            );
        }
        if *nullable {
            assert_eq!(
                case_with(&pool, column, None).await,
                Ok(()),
                "{column} NULL"
            );
        }
    }
    // What waits for a decision: a transfer or an extension, or nothing.
    for k in ["transfer", "extension"] {
        assert_eq!(case_with(&pool, "pending", Some(k)).await, Ok(()), "{k}");
    }
    assert_eq!(case_with(&pool, "pending", None).await, Ok(()));
    assert_eq!(
        case_with(&pool, "pending", Some("bogus")).await,
        Err(CHECK_VIOLATION.to_owned())
    );

    for k in UnitKind::ALL {
        assert_eq!(unit_with(&pool, k.as_str()).await, Ok(()), "{k:?}");
        assert_eq!(
            rule_with(&pool, "place", Some(k.as_str())).await,
            Ok(()),
            "{k:?}"
        );
    }
    assert_eq!(
        unit_with(&pool, "ministry").await,
        Err(CHECK_VIOLATION.to_owned())
    );
    for t in CompetentTier::ALL {
        assert_eq!(rule_with(&pool, t.as_str(), None).await, Ok(()), "{t:?}");
    }
    assert_eq!(
        rule_with(&pool, "city", None).await,
        Err(CHECK_VIOLATION.to_owned())
    );
    assert_eq!(
        rule_with(&pool, "place", Some("ministry")).await,
        Err(CHECK_VIOLATION.to_owned())
    );

    // And the database holds no other CHECK on these columns than the ones above.
    let checks: Vec<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE n.nspname = $1 AND c.contype = 'c' AND conname LIKE '%\\_check'
         ORDER BY conname",
    )
    .bind(&s.database.schema)
    .fetch_all(&pool)
    .await
    .expect("constraints");
    for want in [
        "cases_extension_check",
        "cases_pending_check",
        "cases_reply_outcome_check",
        "cases_status_check",
        "cases_tier_check",
        "rules_competent_tier_check",
        "rules_lead_unit_kind_check",
        "units_kind_check",
    ] {
        assert!(checks.iter().any(|c| c == want), "{want} in {checks:?}");
    }
    pool.close().await;
    ctx.cleanup().await;
}
