//! The statistics cube: per registration day, township and category, the sums of every
//! figure, kept in step with `case_facts` by the consumer.

use chrono::{Datelike, NaiveDate};
use sqlx::{PgConnection, PgPool};

use crate::domain::Facts;
use crate::domain::report::contributions;

/// The cube's key of a case: its registration day (Asia/Shanghai), township and
/// category; none until it is registered.
pub fn key(f: &Facts) -> Option<(NaiveDate, String, String)> {
    let at = f.registered_at?;
    let code = f.matter_code.as_deref()?;
    let town = if code.len() >= 9 { &code[..9] } else { code };
    Some((
        xf_calendar::shanghai_day(at),
        town.to_owned(),
        f.category.clone().unwrap_or_default(),
    ))
}

async fn add(
    tx: &mut PgConnection,
    k: &(NaiveDate, String, String),
    v: &[i64],
) -> Result<(), sqlx::Error> {
    let v: Vec<i32> = v
        .iter()
        .map(|&x| i32::try_from(x).unwrap_or(i32::MAX))
        .collect();
    let month = k.0.with_day(1).unwrap_or(k.0);
    for (table, day) in [("stats_cube", k.0), ("stats_cube_month", month)] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} AS c (day, township, category, f) VALUES ($1, $2, $3, $4)
             ON CONFLICT (day, township, category) DO UPDATE SET f = ARRAY(
                 SELECT a + b FROM unnest(c.f, EXCLUDED.f) WITH ORDINALITY AS t(a, b, i)
                 ORDER BY i)"
        )))
        .bind(day)
        .bind(&k.1)
        .bind(&k.2)
        .bind(&v)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Moves a case's contribution from what its facts were to what they are.
pub async fn shift(
    tx: &mut PgConnection,
    old: Option<&Facts>,
    new: &Facts,
) -> Result<(), sqlx::Error> {
    let before = old.and_then(|o| Some((key(o)?, contributions(o))));
    let after = key(new).map(|k| (k, contributions(new)));
    if before == after {
        return Ok(());
    }
    match (before, after) {
        (Some((kb, vb)), Some((ka, va))) if kb == ka => {
            let d: Vec<i64> = va.iter().zip(vb).map(|(a, b)| a - b).collect();
            add(tx, &ka, &d).await
        }
        (before, after) => {
            if let Some((k, v)) = before {
                let neg: Vec<i64> = v.iter().map(|x| -x).collect();
                add(tx, &k, &neg).await?;
            }
            if let Some((k, v)) = after {
                add(tx, &k, &v).await?;
            }
            Ok(())
        }
    }
}

/// Rebuilds the cube from `case_facts` (after a bulk load), with the statistics'
/// own figure definitions.
pub async fn rebuild(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut figs: Vec<&str> = super::stats::FIGURE_SQL.to_vec();
    figs[super::stats::MEAN] = "COALESCE(sum(f.satisfaction_score), 0)";
    let sql = format!(
        "INSERT INTO stats_cube (day, township, category, f)
         SELECT (f.registered_at AT TIME ZONE 'Asia/Shanghai')::date,
                CASE WHEN length(f.matter_code) >= 9 THEN left(f.matter_code, 9) ELSE f.matter_code END,
                COALESCE(f.category, ''), ARRAY[{}]::int4[]
         FROM case_facts f WHERE f.registered_at IS NOT NULL AND f.matter_code IS NOT NULL
         GROUP BY 1, 2, 3",
        figs.join(", ")
    );
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM stats_cube")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM stats_cube_month")
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let sums: Vec<String> = (1..=super::stats::FIGURE_SQL.len())
        .map(|i| format!("sum(f[{i}])::int4"))
        .collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO stats_cube_month (day, township, category, f)
         SELECT date_trunc('month', day)::date, township, category, ARRAY[{}]
         FROM stats_cube GROUP BY 1, 2, 3",
        sums.join(", ")
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(n)
}
