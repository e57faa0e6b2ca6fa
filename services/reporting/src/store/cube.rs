//! The statistics cube: per registration day, township and category, the sums of every
//! figure, kept in step with `case_facts` by the consumer.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use sqlx::{PgConnection, PgPool};

use crate::domain::Facts;
use crate::domain::query::FIGURES;
use crate::domain::report::contributions;

/// The cube's key of a case: its registration day (Asia/Shanghai), township and
/// category; none until it is registered.
pub fn key(f: &Facts) -> Option<Key> {
    let at = f.registered_at?;
    let code = f.matter_code.as_deref()?;
    let town = if code.len() >= 9 { &code[..9] } else { code };
    Some((
        xf_calendar::shanghai_day(at),
        town.to_owned(),
        f.category.clone().unwrap_or_default(),
    ))
}

/// A cube cell's key: registration day (Asia/Shanghai), township, category.
pub type Key = (NaiveDate, String, String);

/// The changes to the cube of a batch of cases, summed per cell.
#[derive(Debug, Default)]
pub struct Deltas(BTreeMap<Key, Vec<i64>>);

impl Deltas {
    fn add(&mut self, k: Key, v: &[i64], sign: i64) {
        let cell = self.0.entry(k).or_insert_with(|| vec![0; v.len()]);
        for (c, x) in cell.iter_mut().zip(v) {
            *c += sign * x;
        }
    }

    /// Moves a case's contribution from what its facts were to what they are.
    pub fn shift(&mut self, old: Option<&Facts>, new: &Facts) {
        let before = old.and_then(|o| Some((key(o)?, contributions(o))));
        let after = key(new).map(|k| (k, contributions(new)));
        if before == after {
            return;
        }
        if let Some((k, v)) = before {
            self.add(k, &v, -1);
        }
        if let Some((k, v)) = after {
            self.add(k, &v, 1);
        }
    }

    /// The cells that change, in key order (day and month tables).
    fn cells(&self) -> BTreeMap<(bool, Key), Vec<i64>> {
        let mut out: BTreeMap<(bool, Key), Vec<i64>> = BTreeMap::new();
        for (k, v) in self.0.iter().filter(|(_, v)| v.iter().any(|&x| x != 0)) {
            let month = k.0.with_day(1).unwrap_or(k.0);
            for key in [
                (false, k.clone()),
                (true, (month, k.1.clone(), k.2.clone())),
            ] {
                let cell = out.entry(key).or_insert_with(|| vec![0; v.len()]);
                for (c, x) in cell.iter_mut().zip(v) {
                    *c += x;
                }
            }
        }
        out
    }

    /// Adds the changes to the day and the month cube, one statement each, the cells in
    /// key order (so concurrent batches lock rows in the same order).
    pub async fn apply(&self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let cells = self.cells();
        for (month, table) in [(false, "stats_cube"), (true, "stats_cube_month")] {
            let (mut days, mut towns, mut cats, mut flat) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for ((_, (d, t, c)), v) in cells.iter().filter(|((m, _), _)| *m == month) {
                days.push(*d);
                towns.push(t.as_str());
                cats.push(c.as_str());
                flat.extend(v.iter().map(|&x| i32::try_from(x).unwrap_or(i32::MAX)));
            }
            if days.is_empty() {
                continue;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} AS c (day, township, category, f)
                 SELECT d, t, k, ($4::int4[])[(i::int4 - 1) * {n} + 1 : i::int4 * {n}]
                 FROM unnest($1::date[], $2::text[], $3::text[]) WITH ORDINALITY AS u(d, t, k, i)
                 ORDER BY d, t, k
                 ON CONFLICT (day, township, category) DO UPDATE SET f = ARRAY(
                     SELECT a + b FROM unnest(c.f, EXCLUDED.f) WITH ORDINALITY AS x(a, b, i)
                     ORDER BY i)",
                n = FIGURES.len()
            )))
            .bind(&days)
            .bind(&towns)
            .bind(&cats)
            .bind(&flat)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
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
