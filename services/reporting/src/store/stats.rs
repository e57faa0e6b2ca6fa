//! The statistics query over `case_facts` (and `case_visits` for tiers and units).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};
use sqlx::{PgPool, Row as _};

use crate::domain::query::{Basis, Dim, FIGURES, Period, Query};

/// The SQL of each figure, in the order of [`FIGURES`].
pub const FIGURE_SQL: [&str; 26] = [
    "count(*)",
    "count(*) FILTER (WHERE f.accepted_at IS NOT NULL)",
    "count(*) FILTER (WHERE f.not_accepted_at IS NOT NULL)",
    "count(*) FILTER (WHERE f.referred)",
    "count(*) FILTER (WHERE f.closed_at IS NOT NULL)",
    "count(*) FILTER (WHERE f.closed_at IS NOT NULL AND NOT f.acceptance_late AND NOT f.handling_late)",
    "count(*) FILTER (WHERE f.overdue)",
    "count(*) FILTER (WHERE f.escalations > 0)",
    "count(*) FILTER (WHERE f.reviews_asked > 0)",
    "count(*) FILTER (WHERE f.reviews_upheld > 0)",
    "count(*) FILTER (WHERE f.reviews_reversed > 0)",
    "count(*) FILTER (WHERE f.repeat_petition)",
    "count(*) FILTER (WHERE f.skip_level)",
    "count(*) FILTER (WHERE f.collective AND f.channel = 'visit')",
    "COALESCE(sum(f.headcount) FILTER (WHERE f.collective AND f.channel = 'visit'), 0)",
    "count(*) FILTER (WHERE f.satisfaction_score IS NOT NULL)",
    "count(*) FILTER (WHERE f.satisfaction_score >= 4)",
    "round(avg(f.satisfaction_score), 2)::float8",
    "COALESCE(sum(f.follow_ups), 0)",
    "COALESCE(sum(f.follow_ups_reached), 0)",
    "COALESCE(sum(f.follow_ups_satisfied), 0)",
    "COALESCE(sum(f.follow_ups_overdue), 0)",
    "COALESCE(sum(f.appointments), 0)",
    "COALESCE(sum(f.extensions), 0)",
    "count(*) FILTER (WHERE f.pauses > 0)",
    "COALESCE(sum((f.paused_secs + 43200) / 86400), 0)::int8",
];

/// The one float figure.
pub const MEAN: usize = 17;

fn date_col(b: Basis) -> &'static str {
    match b {
        Basis::Registered => "f.registered_at",
        Basis::Closed => "f.closed_at",
    }
}

fn period_sql(p: Period, col: &str) -> String {
    let (unit, fmt) = match p {
        Period::Day => ("day", "YYYY-MM-DD"),
        Period::Week => ("week", "IYYY-\"W\"IW"),
        Period::Month => ("month", "YYYY-MM"),
        Period::Quarter => ("quarter", "YYYY-\"Q\"Q"),
        Period::Year => ("year", "YYYY"),
    };
    format!("to_char(date_trunc('{unit}', {col} AT TIME ZONE 'Asia/Shanghai'), '{fmt}')")
}

fn dim_sql(d: Dim, q: &Query) -> String {
    match d {
        Dim::Period => period_sql(q.period, date_col(q.basis)),
        Dim::Tier => "v.tier".into(),
        Dim::Unit => "v.unit_id".into(),
        Dim::County => "left(f.matter_code, 6)".into(),
        Dim::Township => {
            "CASE WHEN length(f.matter_code) >= 9 THEN left(f.matter_code, 9) END".into()
        }
        Dim::Village => "CASE WHEN length(f.matter_code) = 12 THEN f.matter_code END".into(),
        Dim::Category => "f.category".into(),
        Dim::Channel => "f.channel".into(),
        Dim::Status => "f.status".into(),
    }
}

/// The start and end (exclusive) instants of a period of Asia/Shanghai days.
pub fn bounds(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = from
        .pred_opt()
        .and_then(xf_calendar::end_of_day)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let end = xf_calendar::end_of_day(to).unwrap_or(DateTime::<Utc>::MAX_UTC);
    (start, end)
}

/// The WHERE clause shared by every statistics query ($1..$9, see [`run`]).
fn filters(q: &Query, excluded: &Option<String>, visits: bool, units: bool) -> String {
    let d = date_col(q.basis);
    let mut w = format!(
        "f.matter_code LIKE $3 || '%' AND {d} >= $1 AND {d} < $2
         AND ($4::text IS NULL OR f.category = $4)
         AND ($5::text IS NULL OR f.channel = $5)
         AND ($6::text IS NULL OR f.status = $6)"
    );
    if let Some(x) = excluded {
        w.push_str(" AND ");
        w.push_str(x);
    }
    if visits {
        w.push_str(" AND ($7::text IS NULL OR v.tier = $7)");
        w.push_str(if units {
            " AND ($8::text IS NULL OR v.unit_id = $8)"
        } else {
            " AND ($8::text IS NULL OR TRUE)"
        });
    } else {
        w.push_str(
            " AND (($7::text IS NULL AND $8::text IS NULL) OR EXISTS (SELECT 1 FROM case_visits x
               WHERE x.case_id = f.case_id AND ($7::text IS NULL OR x.tier = $7)
                 AND ($8::text IS NULL OR x.unit_id = $8)))",
        );
    }
    w
}

/// The figures of one group, or of the totals: the counts in the order of
/// [`FIGURES`] (the mean's place holds the sum of scores where the cube answered, and
/// is not shown) and the mean satisfaction score.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    pub counts: [i64; FIGURES.len()],
    pub mean: Option<f64>,
}

impl Figures {
    /// A figure by name, as the API shows it.
    pub fn get(&self, name: &str) -> Option<Value> {
        let i = FIGURES.iter().position(|(n, _)| *n == name)?;
        Some(if i == MEAN {
            json!(self.mean)
        } else {
            json!(self.counts[i])
        })
    }

    fn of_facts(r: &sqlx::postgres::PgRow, offset: usize) -> Figures {
        let mut f = Figures::default();
        for (i, c) in f.counts.iter_mut().enumerate() {
            if i == MEAN {
                f.mean = r.get::<Option<f64>, _>(offset + i);
            } else {
                *c = r.get::<i64, _>(offset + i);
            }
        }
        f
    }

    /// From the cube's sums (the mean's place holds the sum of scores).
    fn of_sums(r: &sqlx::postgres::PgRow, offset: usize) -> Figures {
        let mut f = Figures::default();
        for (i, c) in f.counts.iter_mut().enumerate() {
            *c = r.get::<Option<i64>, _>(offset + i).unwrap_or(0);
        }
        f.mean = mean(f.counts[MEAN], f.counts[RATED]);
        f
    }

    fn add(&mut self, o: &Figures) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
    }
}

/// Index of the rated cases (the mean's divisor) in [`FIGURES`].
const RATED: usize = 15;

/// The mean of `n` scores summing to `sum`, rounded half up to two decimals as SQL's
/// `round(numeric, 2)` does.
fn mean(sum: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| ((200 * sum + n) / (2 * n)) as f64 / 100.0)
}

impl Serialize for Figures {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(FIGURES.len()))?;
        write_figures(self, &mut m)?;
        m.end()
    }
}

fn write_figures<M: SerializeMap>(f: &Figures, m: &mut M) -> Result<(), M::Error> {
    for (i, (name, _)) in FIGURES.iter().enumerate() {
        if i == MEAN {
            m.serialize_entry(name, &f.mean)?;
        } else {
            m.serialize_entry(name, &f.counts[i])?;
        }
    }
    Ok(())
}

/// One group: the values of its group-bys, in order, and its figures. Serialized as
/// one flat object `{<group-by>: value, figure: n}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub dims: Vec<(&'static str, Option<String>)>,
    pub figures: Figures,
}

impl Row {
    /// A group-by value or a figure, by name.
    pub fn get(&self, name: &str) -> Option<Value> {
        match self.dims.iter().find(|(d, _)| *d == name) {
            Some((_, v)) => Some(json!(v)),
            None => self.figures.get(name),
        }
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.dims.len() + FIGURES.len()))?;
        for (d, v) in &self.dims {
            m.serialize_entry(d, v)?;
        }
        write_figures(&self.figures, &mut m)?;
        m.end()
    }
}

fn dims_of(r: &sqlx::postgres::PgRow, q: &Query) -> Vec<(&'static str, Option<String>)> {
    q.group_by
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), r.get::<Option<String>, _>(i)))
        .collect()
}

/// What `GET /v1/stats` answers: the totals over distinct cases and one row per
/// group (a case counts once per tier and unit it passed through).
#[derive(Debug, Clone)]
pub struct Answer {
    pub totals: Figures,
    pub rows: Vec<Row>,
}

/// Runs the query. `excluded` is the unit of the token (its cases as the accused unit
/// are left out).
pub async fn run(
    pool: &PgPool,
    q: &Query,
    excluded_unit: Option<&str>,
) -> Result<Answer, sqlx::Error> {
    if cube_serves(q, excluded_unit) {
        return run_cube(pool, q).await;
    }
    let (start, end) = bounds(q.from, q.to);
    let excluded = excluded_unit.map(|_| "f.excluded_unit_id IS DISTINCT FROM $9".to_owned());
    let figures = FIGURE_SQL.join(", ");
    let totals_sql = format!(
        "SELECT {figures} FROM case_facts f WHERE {}",
        filters(q, &excluded, false, false)
    );
    let t = bound(
        sqlx::query(sqlx::AssertSqlSafe(totals_sql)),
        start,
        end,
        q,
        excluded_unit,
    )
    .fetch_one(pool)
    .await?;
    let totals = Figures::of_facts(&t, 0);
    let mut rows = Vec::new();
    if !q.group_by.is_empty() {
        let visits =
            q.group_by.iter().any(|d| d.per_visit()) || q.tier.is_some() || q.unit.is_some();
        let dims: Vec<String> = q.group_by.iter().map(|d| dim_sql(*d, q)).collect();
        let cols: Vec<String> = dims
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s} AS d{i}"))
            .collect();
        let groups: Vec<String> = (1..=dims.len()).map(|i| i.to_string()).collect();
        let units = q.group_by.contains(&Dim::Unit) || q.unit.is_some();
        let join = if visits {
            let mut c = vec!["case_id", "tier"];
            if units {
                c.push("unit_id");
            }
            format!(
                "JOIN (SELECT DISTINCT {} FROM case_visits) v ON v.case_id = f.case_id",
                c.join(", ")
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {}, {figures} FROM case_facts f {join} WHERE {} GROUP BY {} ORDER BY {}",
            cols.join(", "),
            filters(q, &excluded, visits, units),
            groups.join(", "),
            groups.join(", ")
        );
        for r in bound(
            sqlx::query(sqlx::AssertSqlSafe(sql)),
            start,
            end,
            q,
            excluded_unit,
        )
        .fetch_all(pool)
        .await?
        {
            rows.push(Row {
                dims: dims_of(&r, q),
                figures: Figures::of_facts(&r, q.group_by.len()),
            });
        }
    }
    Ok(Answer { totals, rows })
}

/// The cube answers queries by registration date over its own dimensions (period,
/// county, township, category), for a token without a unit claim (the accused-unit
/// exclusion needs the cases themselves).
pub fn cube_serves(q: &Query, excluded_unit: Option<&str>) -> bool {
    q.basis == Basis::Registered
        && excluded_unit.is_none()
        && q.tier.is_none()
        && q.unit.is_none()
        && q.channel.is_none()
        && q.status.is_none()
        && q.jurisdiction.len() <= 9
        && q.group_by
            .iter()
            .all(|d| matches!(d, Dim::Period | Dim::County | Dim::Township | Dim::Category))
}

fn cube_dim(d: Dim, p: Period) -> String {
    match d {
        Dim::Period => {
            period_sql(p, "c.day::timestamp").replace(" AT TIME ZONE 'Asia/Shanghai'", "")
        }
        Dim::County => "left(c.township, 6)".into(),
        Dim::Township => "CASE WHEN length(c.township) >= 9 THEN c.township END".into(),
        _ => "NULLIF(c.category, '')".into(),
    }
}

async fn run_cube(pool: &PgPool, q: &Query) -> Result<Answer, sqlx::Error> {
    // The raw sums; the mean is worked out from its two sums here.
    let figures: Vec<String> = (1..=FIGURE_SQL.len())
        .map(|i| format!("sum(c.f[{i}])::int8"))
        .collect();
    let figures = figures.join(", ");
    let filter = "c.township LIKE $3 || '%' AND c.day >= $1 AND c.day <= $2
                  AND ($4::text IS NULL OR c.category = $4)";
    let bind = |s: String| {
        sqlx::query(sqlx::AssertSqlSafe(s))
            .bind(q.from)
            .bind(q.to)
            .bind(&q.jurisdiction)
            .bind(&q.category)
    };
    // Whole months by month, quarter or year: the month cube.
    let whole_months = q.from.day() == 1
        && q.to.succ_opt().is_some_and(|d| d.day() == 1)
        && (!q.group_by.contains(&Dim::Period)
            || matches!(q.period, Period::Month | Period::Quarter | Period::Year));
    let table = if whole_months {
        "stats_cube_month"
    } else {
        "stats_cube"
    };
    if q.group_by.is_empty() {
        let t = bind(format!("SELECT {figures} FROM {table} c WHERE {filter}"))
            .fetch_one(pool)
            .await?;
        return Ok(Answer {
            totals: Figures::of_sums(&t, 0),
            rows: Vec::new(),
        });
    }
    let cols: Vec<String> = q
        .group_by
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{} AS d{i}", cube_dim(*d, q.period)))
        .collect();
    let groups: Vec<String> = (1..=cols.len()).map(|i| i.to_string()).collect();
    let sql = format!(
        "SELECT {}, {figures} FROM {table} c WHERE {filter} GROUP BY {g} ORDER BY {g}",
        cols.join(", "),
        g = groups.join(", ")
    );
    // Every cell falls in exactly one group: the totals are the rows' sums.
    let mut totals = Figures::default();
    let rows: Vec<Row> = bind(sql)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let figures = Figures::of_sums(r, q.group_by.len());
            totals.add(&figures);
            Row {
                dims: dims_of(r, q),
                figures,
            }
        })
        .collect();
    totals.mean = mean(totals.counts[MEAN], totals.counts[RATED]);
    Ok(Answer { totals, rows })
}

fn bound<'q>(
    s: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    q: &'q Query,
    excluded_unit: Option<&'q str>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    s.bind(start)
        .bind(end)
        .bind(&q.jurisdiction)
        .bind(&q.category)
        .bind(&q.channel)
        .bind(&q.status)
        .bind(&q.tier)
        .bind(&q.unit)
        .bind(excluded_unit)
}

/// True when some case has this category.
pub async fn category_known(pool: &PgPool, c: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM case_facts WHERE category = $1)")
        .bind(c)
        .fetch_one(pool)
        .await
}

/// True when some case passed through this unit.
pub async fn unit_known(pool: &PgPool, u: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM case_visits WHERE unit_id = $1)")
        .bind(u)
        .fetch_one(pool)
        .await
}

/// True when some case arose at or under this code.
pub async fn place_known(pool: &PgPool, code: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM case_facts WHERE matter_code LIKE $1 || '%')")
        .bind(code)
        .fetch_one(pool)
        .await
}
