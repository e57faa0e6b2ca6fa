//! The statistics query: its filters, group-bys and period, checked; the figures and
//! their definitions.

use chrono::{Datelike, Duration, NaiveDate};

/// The longest period a query may cover.
pub const MAX_DAYS: i64 = 5 * 366;
/// The longest period a query grouped by day may cover.
pub const MAX_DAYS_BY_DAY: i64 = 366;
/// At most this many group-bys at once.
pub const MAX_GROUP_BYS: usize = 3;

/// Bucket of the period dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        Some(match s {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "quarter" => Period::Quarter,
            "year" => Period::Year,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }
}

/// Which date places a case in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// When the case was registered (received).
    Registered,
    /// When it was closed (cases not closed are left out).
    Closed,
}

impl Basis {
    pub fn parse(s: &str) -> Option<Basis> {
        match s {
            "registered" => Some(Basis::Registered),
            "closed" => Some(Basis::Closed),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Registered => "registered",
            Basis::Closed => "closed",
        }
    }
}

/// A group-by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Period,
    Tier,
    County,
    Township,
    Village,
    Category,
    Channel,
    Unit,
    Status,
}

impl Dim {
    pub const ALL: [Dim; 9] = [
        Dim::Period,
        Dim::Tier,
        Dim::County,
        Dim::Township,
        Dim::Village,
        Dim::Category,
        Dim::Channel,
        Dim::Unit,
        Dim::Status,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Period => "period",
            Dim::Tier => "tier",
            Dim::County => "county",
            Dim::Township => "township",
            Dim::Village => "village",
            Dim::Category => "category",
            Dim::Channel => "channel",
            Dim::Unit => "unit",
            Dim::Status => "status",
        }
    }
    pub fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.as_str() == s)
    }
    /// Tier and unit count a case once per tier (unit) it passed through.
    pub fn per_visit(self) -> bool {
        matches!(self, Dim::Tier | Dim::Unit)
    }
}

/// The figures, in the order they are shown, with their definitions.
pub const FIGURES: [(&str, &str); 26] = [
    (
        "received",
        "cases registered (by registration date) or closed (by closing date) in the period",
    ),
    ("accepted", "of those, cases a unit accepted (CaseAccepted)"),
    (
        "not_accepted",
        "cases refused (CaseNotAccepted), referred ones included",
    ),
    (
        "referred",
        "cases sent to courts, arbitration or administrative review (a referral channel at registration or refusal)",
    ),
    ("closed", "cases closed (CaseClosed)"),
    (
        "on_time",
        "closed cases with no breached acceptance, handling, review or re-review deadline",
    ),
    (
        "overdue",
        "cases with at least one breached deadline (DeadlineBreached)",
    ),
    (
        "escalated",
        "cases moved up a tier at least once (CaseEscalated, not a skip-level notice)",
    ),
    (
        "reviews_asked",
        "cases whose petitioner asked for review or re-review (ReviewRequested)",
    ),
    (
        "reviews_upheld",
        "cases where a review reply kept the outcome of the reply before it",
    ),
    (
        "reviews_reversed",
        "cases where a review reply changed the outcome of the reply before it",
    ),
    (
        "repeat_petitions",
        "cases linked to an earlier one as a repeat petition (DuplicateLinked.repeat_petition)",
    ),
    (
        "skip_level",
        "cases filed above the competent tier (越级: a skip-level notice, dispatch or link)",
    ),
    (
        "collective_visits",
        "collective cases that came as visits (channel visit, collective)",
    ),
    (
        "collective_headcount",
        "people in those collective visits (sum of headcount)",
    ),
    (
        "satisfaction_recorded",
        "cases the petitioner rated (SatisfactionRecorded)",
    ),
    ("satisfied", "rated cases with a score of 4 or 5"),
    (
        "satisfaction_mean",
        "mean score of the rated cases, 1–5 (null when none)",
    ),
    (
        "follow_ups",
        "follow-up visits (distinct visit ids of FollowUpScheduled, FollowUpCompleted, FollowUpOverdue)",
    ),
    (
        "follow_ups_reached",
        "follow-up visits that reached the petitioner (FollowUpCompleted.reached)",
    ),
    (
        "follow_ups_satisfied",
        "follow-up visits where the petitioner said satisfied or basically satisfied",
    ),
    (
        "follow_ups_overdue",
        "follow-up visits that passed their due moment (FollowUpOverdue)",
    ),
    (
        "appointments",
        "appointments booked for the cases (AppointmentBooked, AppointmentMoved; distinct ids)",
    ),
    (
        "extensions",
        "deadline extensions granted (DeadlineExtended, distinct by stage and new due date)",
    ),
    (
        "paused",
        "cases whose deadline clock was paused at least once (ClockPaused, ClockResumed)",
    ),
    (
        "paused_days",
        "days excluded from deadlines by pauses (per clock the paused_secs_total of its last ClockResumed), each case's total rounded to the nearest whole day",
    ),
];

/// A checked statistics query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    pub period: Period,
    pub basis: Basis,
    pub jurisdiction: String,
    pub tier: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    pub unit: Option<String>,
    pub status: Option<String>,
    pub group_by: Vec<Dim>,
}

/// The raw parameters, as strings.
#[derive(Debug, Clone, Default)]
pub struct Raw<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub period: Option<&'a str>,
    pub basis: Option<&'a str>,
    pub tier: Option<&'a str>,
    pub category: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub unit: Option<&'a str>,
    pub status: Option<&'a str>,
    pub group_by: Option<&'a str>,
}

/// Parses a date (YYYY-MM-DD).
pub fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn nonempty<'a>(
    errs: &mut Vec<(&'static str, String)>,
    field: &'static str,
    v: Option<&'a str>,
) -> Option<&'a str> {
    match v {
        Some("") => {
            errs.push((field, "must not be empty".into()));
            None
        }
        other => other,
    }
}

/// Checks the parameters; `today` and `jurisdiction` (already checked against the
/// token) fill the defaults. Errors name the field.
pub fn parse(
    r: &Raw<'_>,
    jurisdiction: String,
    today: NaiveDate,
) -> Result<Query, Vec<(&'static str, String)>> {
    let mut errs = Vec::new();
    let mut day = |field: &'static str, v: Option<&str>, default: NaiveDate| match v {
        None => Some(default),
        Some(s) => match date(s) {
            Some(d) => Some(d),
            None => {
                errs.push((field, format!("{s:?} is not a date (YYYY-MM-DD)")));
                None
            }
        },
    };
    let from = day(
        "from",
        r.from,
        NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
    );
    let to = day("to", r.to, today);
    let period = match r.period {
        None => Some(Period::Month),
        Some(s) => Period::parse(s).or_else(|| {
            errs.push((
                "period",
                format!("{s:?}: one of day, week, month, quarter, year"),
            ));
            None
        }),
    };
    let basis = match r.basis {
        None => Some(Basis::Registered),
        Some(s) => Basis::parse(s).or_else(|| {
            errs.push(("basis", format!("{s:?}: one of registered, closed")));
            None
        }),
    };
    let tier = nonempty(&mut errs, "tier", r.tier);
    if let Some(t) = tier
        && !["village", "township", "county", "city"].contains(&t)
    {
        errs.push((
            "tier",
            format!("{t:?}: one of village, township, county, city"),
        ));
    }
    let channel = nonempty(&mut errs, "channel", r.channel);
    if let Some(c) = channel
        && !super::CHANNELS.contains(&c)
    {
        errs.push((
            "channel",
            format!("{c:?}: one of letter, visit, phone, online"),
        ));
    }
    let status = nonempty(&mut errs, "status", r.status);
    if let Some(s) = status
        && xf_events::status::Status::parse(s).is_none()
    {
        errs.push(("status", format!("{s:?} is not a case status")));
    }
    let category = nonempty(&mut errs, "category", r.category);
    let unit = nonempty(&mut errs, "unit", r.unit);
    let mut group_by = Vec::new();
    if let Some(g) = r.group_by {
        for part in g.split(',').map(str::trim) {
            match Dim::parse(part) {
                Some(d) if group_by.contains(&d) => {
                    errs.push(("group_by", format!("{part:?} is named twice")));
                }
                Some(d) => group_by.push(d),
                None => errs.push((
                    "group_by",
                    format!(
                        "{part:?} is not allowed: period, tier, county, township, village, category, channel, unit, status"
                    ),
                )),
            }
        }
        if group_by.len() > MAX_GROUP_BYS {
            errs.push(("group_by", format!("at most {MAX_GROUP_BYS} group-bys")));
        }
    }
    if let (Some(f), Some(t), Some(p)) = (from, to, period) {
        if t < f {
            errs.push(("to", "the period is reversed: to is before from".into()));
        } else {
            let days = (t - f).num_days() + 1;
            if days > MAX_DAYS {
                errs.push((
                    "to",
                    format!("the period is over the limit of {MAX_DAYS} days"),
                ));
            } else if p == Period::Day && group_by.contains(&Dim::Period) && days > MAX_DAYS_BY_DAY
            {
                errs.push((
                    "period",
                    format!("by day, the period is over the limit of {MAX_DAYS_BY_DAY} days"),
                ));
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Query {
        from: from.unwrap_or(today),
        to: to.unwrap_or(today),
        period: period.unwrap_or(Period::Month),
        basis: basis.unwrap_or(Basis::Registered),
        jurisdiction,
        tier: tier.map(str::to_owned),
        category: category.map(str::to_owned),
        channel: channel.map(str::to_owned),
        unit: unit.map(str::to_owned),
        status: status.map(str::to_owned),
        group_by,
    })
}

/// The calendar month `YYYY-MM` as its first and last day.
pub fn month(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = date(&format!("{s}-01"))?;
    if s.len() != 7 {
        return None;
    }
    let next = first.checked_add_months(chrono::Months::new(1))?;
    Some((first, next - Duration::days(1)))
}

/// The month before, and the same month a year before.
pub fn comparisons(first: NaiveDate) -> (NaiveDate, NaiveDate) {
    let prev = first
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(first);
    let year = first
        .checked_sub_months(chrono::Months::new(12))
        .unwrap_or(first);
    (prev, year)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        date("2026-06-15").expect("date")
    }

    fn fields(r: &Raw<'_>) -> Vec<&'static str> {
        match parse(r, "330122".into(), today()) {
            Ok(_) => vec![],
            Err(e) => e.into_iter().map(|(f, _)| f).collect(),
        }
    }

    #[test]
    fn defaults_are_this_year_by_month_by_registration() {
        let q = parse(&Raw::default(), "330122".into(), today()).expect("ok");
        assert_eq!(q.from, date("2026-01-01").expect("d"));
        assert_eq!(q.to, today());
        assert_eq!(q.period, Period::Month);
        assert_eq!(q.basis, Basis::Registered);
    }

    #[test]
    fn bad_input_names_the_field() {
        let r = |f: fn(&mut Raw<'static>)| {
            let mut r = Raw::default();
            f(&mut r);
            fields(&r)
        };
        assert_eq!(r(|r| r.from = Some("2026-13-01")), ["from"]);
        assert_eq!(r(|r| r.from = Some("")), ["from"]);
        assert_eq!(
            r(|r| {
                r.from = Some("2026-05-01");
                r.to = Some("2026-04-01")
            }),
            ["to"]
        );
        assert_eq!(
            r(|r| {
                r.from = Some("2016-05-01");
                r.to = Some("2026-04-01")
            }),
            ["to"]
        );
        assert_eq!(
            r(|r| {
                r.from = Some("2024-05-01");
                r.period = Some("day");
                r.group_by = Some("period")
            }),
            ["period"]
        );
        assert_eq!(r(|r| r.group_by = Some("petitioner")), ["group_by"]);
        assert_eq!(r(|r| r.group_by = Some("tier,tier")), ["group_by"]);
        assert_eq!(
            r(|r| r.group_by = Some("tier,unit,status,category")),
            ["group_by"]
        );
        assert_eq!(r(|r| r.period = Some("fortnight")), ["period"]);
        assert_eq!(r(|r| r.basis = Some("replied")), ["basis"]);
        assert_eq!(r(|r| r.channel = Some("fax")), ["channel"]);
        assert_eq!(r(|r| r.status = Some("open")), ["status"]);
        assert_eq!(r(|r| r.tier = Some("province")), ["tier"]);
        assert_eq!(r(|r| r.category = Some("")), ["category"]);
    }

    #[test]
    fn months_and_their_comparisons() {
        let (a, b) = month("2026-02").expect("month");
        assert_eq!(
            (a, b),
            (
                date("2026-02-01").expect("d"),
                date("2026-02-28").expect("d")
            )
        );
        assert!(month("2026-2").is_none());
        assert!(month("2026-13").is_none());
        let (p, y) = comparisons(a);
        assert_eq!(p, date("2026-01-01").expect("d"));
        assert_eq!(y, date("2025-02-01").expect("d"));
    }
}
