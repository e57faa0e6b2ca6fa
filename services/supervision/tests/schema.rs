//! The domain's enums and the schema's CHECK constraints agree: every value of
//! `ClockState`, `CardState`, `TimerKind` and `MoveReason` is stored, anything else is
//! refused by Postgres (a check violation), on the real database after every migration.

use chrono::Utc;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use xf_supervision::domain::card::CardState;
use xf_supervision::domain::clock::{ClockState, TimerKind};
use xf_supervision::domain::escalation::MoveReason;
use xf_supervision::domain::ownership::EndKind;
use xf_testkit::Ctx;

const BOGUS: [&str; 4] = ["warned", "RUNNING", "", "done"];

async fn pool() -> (Ctx, PgPool) {
    let ctx = Ctx::new().await.expect("context");
    let s = ctx
        .settings::<xf_supervision::Ext>(&xf_supervision::binary(), &[])
        .expect("settings");
    let app = xf_supervision::build(s)
        .await
        .expect("builds (migrations applied)");
    let pool = app.pool().clone();
    (ctx, pool)
}

/// Runs `sql` with `value` in a savepoint: Ok, or the SQLSTATE of the refusal.
async fn try_value(conn: &mut PgConnection, sql: &str, value: &str, id: i64) -> Result<(), String> {
    sqlx::query("SAVEPOINT v")
        .execute(&mut *conn)
        .await
        .expect("savepoint");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(value)
        .bind(id)
        .execute(&mut *conn)
        .await;
    sqlx::query("ROLLBACK TO SAVEPOINT v")
        .execute(&mut *conn)
        .await
        .expect("rollback to savepoint");
    match r {
        Ok(done) => {
            assert_eq!(done.rows_affected(), 1, "{sql} with {value:?}");
            Ok(())
        }
        Err(sqlx::Error::Database(e)) => Err(e.code().map(|c| c.to_string()).unwrap_or_default()),
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// Each of `good` is accepted, each of `BOGUS` refused with a check violation (23514).
async fn agree(conn: &mut PgConnection, what: &str, sql: &str, good: &[&str], id: i64) {
    for v in good {
        assert_eq!(
            try_value(conn, sql, v, id).await,
            Ok(()),
            "{what}: {v:?} is stored"
        );
    }
    for v in BOGUS {
        if good.contains(&v) {
            continue;
        }
        assert_eq!(
            try_value(conn, sql, v, id).await,
            Err("23514".to_owned()),
            "{what}: {v:?} is refused by a CHECK constraint"
        );
    }
}

#[tokio::test]
async fn the_check_constraints_hold_exactly_the_domain_values() {
    let (ctx, pool) = pool().await;
    let mut tx = pool.begin().await.expect("tx");
    let now = Utc::now();
    let case = Uuid::now_v7();
    let clock: i64 = sqlx::query_scalar(
        "INSERT INTO clocks (case_id, stage, tier, jurisdiction_code, started_at, due_at, state,
             period_days, policy)
         VALUES ($1, 'handling', 'county', '330122', $2, $2, 'running', 60, 'statutory')
         RETURNING id",
    )
    .bind(case)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .expect("a clock");
    let card = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO cards (id, case_id, jurisdiction_code, instruction, undertaking_unit_id,
             state, issued_by, issued_at, due_at, updated_at)
         VALUES ($1, $2, '330122', 'x', 'u', 'issued', 's', $3, $3, $3)",
    )
    .bind(card)
    .bind(case)
    .bind(now)
    .execute(&mut *tx)
    .await
    .expect("a card");
    let timer: i64 = sqlx::query_scalar(
        "INSERT INTO timers (clock_id, case_id, kind, fire_at) VALUES ($1, $2, 'breach', $3)
         RETURNING id",
    )
    .bind(clock)
    .bind(case)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .expect("a timer");
    let mv: i64 = sqlx::query_scalar(
        "INSERT INTO tier_moves (event_id, case_id, at, tier, jurisdiction_code, unit_id,
             unit_name, reason, skip_level, review_level)
         VALUES ($1, $2, $3, 'county', '330122', 'u', 'U', NULL, FALSE, 0) RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(case)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .expect("a move");
    let notice: i64 = sqlx::query_scalar(
        "INSERT INTO escalation_notices (event_id, case_id, at, producer, reason, stage,
             from_tier, from_jurisdiction_code, from_unit_id, to_tier, to_jurisdiction_code)
         VALUES ($1, $2, $3, 'p', 'unspecified', 'handling', 'county', '330122', 'u', 'city', '3301')
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(case)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .expect("a notice");

    let clocks: Vec<&str> = ClockState::ALL.iter().map(|s| s.as_str()).collect();
    agree(
        &mut tx,
        "clocks.state",
        "UPDATE clocks SET state = $1 WHERE id = $2",
        &clocks,
        clock,
    )
    .await;
    let cards_: Vec<&str> = CardState::ALL.iter().map(|s| s.as_str()).collect();
    // Cards are keyed by uuid: the id is matched through its clock's case instead.
    let card_sql =
        "UPDATE cards SET state = $1 WHERE case_id = (SELECT case_id FROM clocks WHERE id = $2)";
    agree(&mut tx, "cards.state", card_sql, &cards_, clock).await;
    let kinds: Vec<&str> = TimerKind::ALL.iter().map(|k| k.as_str()).collect();
    agree(
        &mut tx,
        "timers.kind",
        "UPDATE timers SET kind = $1 WHERE id = $2",
        &kinds,
        timer,
    )
    .await;
    let reasons: Vec<&str> = MoveReason::ALL.iter().map(|r| r.as_str()).collect();
    agree(
        &mut tx,
        "tier_moves.reason",
        "UPDATE tier_moves SET reason = $1 WHERE id = $2",
        &reasons,
        mv,
    )
    .await;
    let mut notice_reasons = reasons.clone();
    notice_reasons.push(MoveReason::UNSPECIFIED);
    agree(
        &mut tx,
        "escalation_notices.reason",
        "UPDATE escalation_notices SET reason = $1 WHERE id = $2",
        &notice_reasons,
        notice,
    )
    .await;
    sqlx::query(
        "INSERT INTO ownerships (id, case_id, jurisdiction_code, leader_id, leader_title, duties,
             assigned_by, assigned_at)
         VALUES ($1, $2, '330122', 'l', 'L', '{}', 's', $3)",
    )
    .bind(Uuid::now_v7())
    .bind(case)
    .bind(now)
    .execute(&mut *tx)
    .await
    .expect("an ownership");
    let ends: Vec<&str> = EndKind::ALL.iter().map(|k| k.as_str()).collect();
    let end_sql = "UPDATE ownerships SET end_kind = $1, ended_at = now()
         WHERE case_id = (SELECT case_id FROM clocks WHERE id = $2)";
    agree(&mut tx, "ownerships.end_kind", end_sql, &ends, clock).await;
    // A move without a reason (a first or same-tier dispatch) stays allowed.
    sqlx::query("UPDATE tier_moves SET reason = NULL WHERE id = $1")
        .bind(mv)
        .execute(&mut *tx)
        .await
        .expect("no reason");
    tx.rollback().await.expect("rollback");
    pool.close().await;
    ctx.cleanup().await;
}
