//! Reception rules as data: what kind of day a rule names, what happens when that day is
//! not a working day, and the concrete dates it gives in a range.
//!
//! Kinds and their default holiday policy (节假日除外: a session falls only on working
//! days — not a weekend, not a statutory holiday; a make-up working day counts):
//!
//! | kind | parameters | default when the day is not a working day |
//! | --- | --- | --- |
//! | `fixed_day` | `day` 1–28 (29–31 are refused: use `last_day`) | `next_working_day` |
//! | `last_day` | — | `previous_working_day` (stays in its month) |
//! | `nth_weekday` | `n` 1–4, `weekday` | `next_working_day` |
//! | `last_weekday` | `weekday` (the weekday of the month's last week) | `next_working_day` |
//! | `weekly` | `weekdays` | `skip` |
//! | `working_days` | — (every working day, make-up days included) | always a working day |
//! | `lunar_days` | `endings` (3, 6, 9 → 初三 … 廿九), `leap_months` (default true) | `skip` |
//! | `goal` | `posts`, `every_months`, `min_per_year` | fills gaps on working days |

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use xf_calendar::HolidayCalendar;
use xf_calendar::{lunar, month};

use super::Issue;

/// What happens when a rule's day is not a working day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayPolicy {
    /// No session that time.
    Skip,
    /// The session moves to the next working day.
    NextWorkingDay,
    /// The session moves to the working day before.
    PreviousWorkingDay,
}

impl HolidayPolicy {
    pub const ALL: [HolidayPolicy; 3] = [
        HolidayPolicy::Skip,
        HolidayPolicy::NextWorkingDay,
        HolidayPolicy::PreviousWorkingDay,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            HolidayPolicy::Skip => "skip",
            HolidayPolicy::NextWorkingDay => "next_working_day",
            HolidayPolicy::PreviousWorkingDay => "previous_working_day",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The six reception forms (R26).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// 定点接访
    FixedPoint,
    /// 重点约访 / 预约接待
    Appointment,
    /// 带案下访
    CasesToGround,
    /// 跟踪回访
    FollowUp,
    /// 随机接访
    Random,
    /// 现场接访
    OnSite,
}

impl Form {
    pub const ALL: [Form; 6] = [
        Form::FixedPoint,
        Form::Appointment,
        Form::CasesToGround,
        Form::FollowUp,
        Form::Random,
        Form::OnSite,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Form::FixedPoint => "fixed_point",
            Form::Appointment => "appointment",
            Form::CasesToGround => "cases_to_ground",
            Form::FollowUp => "follow_up",
            Form::Random => "random",
            Form::OnSite => "on_site",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
    /// The Chinese name shown on the published calendar.
    pub fn label(self) -> &'static str {
        match self {
            Form::FixedPoint => "定点接访",
            Form::Appointment => "预约接访",
            Form::CasesToGround => "带案下访",
            Form::FollowUp => "跟踪回访",
            Form::Random => "随机接访",
            Form::OnSite => "现场接访",
        }
    }
}

/// What kind of day a rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    FixedDay { day: u32 },
    LastDay,
    NthWeekday { n: u8, weekday: Weekday },
    LastWeekday { weekday: Weekday },
    Weekly { weekdays: Vec<Weekday> },
    WorkingDays,
    LunarDays { endings: Vec<u8>, leap_months: bool },
    Goal(Goal),
}

/// A plan goal (R20): each post at least once in every block of `every_months`
/// months, and at least `min_per_year` sessions a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goal {
    pub posts: Vec<String>,
    pub every_months: u32,
    pub min_per_year: u32,
}

pub const KINDS: [&str; 8] = [
    "fixed_day",
    "last_day",
    "nth_weekday",
    "last_weekday",
    "weekly",
    "working_days",
    "lunar_days",
    "goal",
];

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn ical_day(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn parse_weekday(v: &serde_json::Value) -> Option<Weekday> {
    let s = v.as_str()?;
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .find(|w| weekday_name(*w) == s)
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::FixedDay { .. } => "fixed_day",
            Kind::LastDay => "last_day",
            Kind::NthWeekday { .. } => "nth_weekday",
            Kind::LastWeekday { .. } => "last_weekday",
            Kind::Weekly { .. } => "weekly",
            Kind::WorkingDays => "working_days",
            Kind::LunarDays { .. } => "lunar_days",
            Kind::Goal(_) => "goal",
        }
    }

    /// The default holiday policy of the kind (see the module's table).
    pub fn default_policy(&self) -> HolidayPolicy {
        match self {
            Kind::FixedDay { .. } | Kind::NthWeekday { .. } | Kind::LastWeekday { .. } => {
                HolidayPolicy::NextWorkingDay
            }
            Kind::LastDay => HolidayPolicy::PreviousWorkingDay,
            Kind::Weekly { .. } | Kind::WorkingDays | Kind::LunarDays { .. } | Kind::Goal(_) => {
                HolidayPolicy::Skip
            }
        }
    }

    /// The kind's parameters as stored and listed.
    pub fn parameters(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Kind::FixedDay { day } => json!({ "day": day }),
            Kind::LastDay | Kind::WorkingDays => json!({}),
            Kind::NthWeekday { n, weekday } => json!({ "n": n, "weekday": weekday_name(*weekday) }),
            Kind::LastWeekday { weekday } => json!({ "weekday": weekday_name(*weekday) }),
            Kind::Weekly { weekdays } => {
                json!({ "weekdays": weekdays.iter().map(|w| weekday_name(*w)).collect::<Vec<_>>() })
            }
            Kind::LunarDays {
                endings,
                leap_months,
            } => json!({ "endings": endings, "leap_months": leap_months }),
            Kind::Goal(g) => json!({
                "posts": g.posts, "every_months": g.every_months, "min_per_year": g.min_per_year
            }),
        }
    }

    /// Parses `kind` with its `parameters`; every problem is named (`parameters.day` …).
    pub fn parse(kind: &str, p: &serde_json::Value) -> Result<Kind, Vec<Issue>> {
        let mut issues = Vec::new();
        let obj = match p {
            serde_json::Value::Object(m) => m.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            _ => {
                return Err(vec![Issue::new("parameters", "must be an object")]);
            }
        };
        let allowed: &[&str] = match kind {
            "fixed_day" => &["day"],
            "last_day" | "working_days" => &[],
            "nth_weekday" => &["n", "weekday"],
            "last_weekday" => &["weekday"],
            "weekly" => &["weekdays"],
            "lunar_days" => &["endings", "leap_months"],
            "goal" => &["posts", "every_months", "min_per_year"],
            _ => {
                return Err(vec![Issue::new(
                    "kind",
                    format!("must be one of {}", KINDS.join(", ")),
                )]);
            }
        };
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                issues.push(Issue::new(
                    format!("parameters.{k}"),
                    format!("not a parameter of {kind}"),
                ));
            }
        }
        let field = |k: &str| format!("parameters.{k}");
        let int = |k: &str, issues: &mut Vec<Issue>| -> Option<i64> {
            match obj.get(k) {
                None => {
                    issues.push(Issue::new(field(k), "is required"));
                    None
                }
                Some(v) => {
                    let n = v.as_i64();
                    if n.is_none() {
                        issues.push(Issue::new(field(k), "must be an integer"));
                    }
                    n
                }
            }
        };
        let weekday = |k: &str, issues: &mut Vec<Issue>| -> Option<Weekday> {
            let w = obj.get(k).and_then(parse_weekday);
            if w.is_none() {
                issues.push(Issue::new(field(k), "must be monday … sunday"));
            }
            w
        };
        let parsed = match kind {
            "fixed_day" => match int("day", &mut issues) {
                Some(d @ 1..=28) => Some(Kind::FixedDay {
                    day: u32::try_from(d).unwrap_or(1),
                }),
                Some(29..=31) => {
                    issues.push(Issue::new(
                        field("day"),
                        "the 29th to the 31st do not exist in every month and are refused; use kind last_day for the month's last day",
                    ));
                    None
                }
                Some(_) => {
                    issues.push(Issue::new(field("day"), "must be 1 to 28"));
                    None
                }
                None => None,
            },
            "last_day" => Some(Kind::LastDay),
            "working_days" => Some(Kind::WorkingDays),
            "nth_weekday" => {
                let n = match int("n", &mut issues) {
                    Some(n @ 1..=4) => u8::try_from(n).ok(),
                    Some(5) => {
                        issues.push(Issue::new(
                            field("n"),
                            "a fifth weekday does not exist in every month; use kind last_weekday",
                        ));
                        None
                    }
                    Some(_) => {
                        issues.push(Issue::new(field("n"), "must be 1 to 4"));
                        None
                    }
                    None => None,
                };
                let w = weekday("weekday", &mut issues);
                n.zip(w).map(|(n, weekday)| Kind::NthWeekday { n, weekday })
            }
            "last_weekday" => {
                weekday("weekday", &mut issues).map(|weekday| Kind::LastWeekday { weekday })
            }
            "weekly" => {
                let list = obj.get("weekdays").and_then(|v| v.as_array());
                match list {
                    Some(l) if !l.is_empty() => {
                        let mut days = Vec::new();
                        for (i, v) in l.iter().enumerate() {
                            match parse_weekday(v) {
                                Some(w) if !days.contains(&w) => days.push(w),
                                Some(_) => issues.push(Issue::new(
                                    format!("parameters.weekdays[{i}]"),
                                    "listed twice",
                                )),
                                None => issues.push(Issue::new(
                                    format!("parameters.weekdays[{i}]"),
                                    "must be monday … sunday",
                                )),
                            }
                        }
                        days.sort_by_key(Weekday::num_days_from_monday);
                        Some(Kind::Weekly { weekdays: days })
                    }
                    _ => {
                        issues.push(Issue::new(
                            field("weekdays"),
                            "must list at least one weekday",
                        ));
                        None
                    }
                }
            }
            "lunar_days" => {
                let leap_months = match obj.get("leap_months") {
                    None => true,
                    Some(v) => v.as_bool().unwrap_or_else(|| {
                        issues.push(Issue::new(field("leap_months"), "must be true or false"));
                        true
                    }),
                };
                match obj.get("endings").and_then(|v| v.as_array()) {
                    Some(l) if !l.is_empty() => {
                        let mut endings = Vec::new();
                        for (i, v) in l.iter().enumerate() {
                            match v.as_u64() {
                                Some(e @ 0..=9) if !endings.contains(&(e as u8)) => {
                                    endings.push(e as u8)
                                }
                                _ => issues.push(Issue::new(
                                    format!("parameters.endings[{i}]"),
                                    "must be a distinct digit 0 to 9",
                                )),
                            }
                        }
                        endings.sort_unstable();
                        Some(Kind::LunarDays {
                            endings,
                            leap_months,
                        })
                    }
                    _ => {
                        issues.push(Issue::new(
                            field("endings"),
                            "must list the last digits of the lunar days, e.g. [3, 6, 9]",
                        ));
                        None
                    }
                }
            }
            _ => {
                let posts: Vec<String> = obj
                    .get("posts")
                    .and_then(|v| v.as_array())
                    .map(|l| {
                        l.iter()
                            .filter_map(|p| p.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                if posts.is_empty() || posts.iter().any(|p| p.trim().is_empty()) {
                    issues.push(Issue::new(field("posts"), "must list at least one post"));
                }
                let every = match int("every_months", &mut issues) {
                    Some(n @ (1 | 2 | 3 | 4 | 6 | 12)) => u32::try_from(n).ok(),
                    Some(_) => {
                        issues.push(Issue::new(
                            field("every_months"),
                            "must divide the year: 1, 2, 3, 4, 6 or 12",
                        ));
                        None
                    }
                    None => None,
                };
                let min = match int("min_per_year", &mut issues) {
                    Some(n @ 1..=366) => u32::try_from(n).ok(),
                    Some(_) => {
                        issues.push(Issue::new(field("min_per_year"), "must be 1 to 366"));
                        None
                    }
                    None => None,
                };
                every.zip(min).map(|(every_months, min_per_year)| {
                    Kind::Goal(Goal {
                        posts,
                        every_months,
                        min_per_year,
                    })
                })
            }
        };
        match parsed {
            Some(k) if issues.is_empty() => Ok(k),
            _ => Err(issues),
        }
    }

    /// The days the rule names in `[from, to]` before the holiday policy is applied,
    /// with "every day a working day" for `working_days` (`naive`) or the calendar's
    /// working days (not naive).
    fn nominal(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        cal: &dyn HolidayCalendar,
        naive: bool,
    ) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        match self {
            Kind::FixedDay { .. }
            | Kind::LastDay
            | Kind::NthWeekday { .. }
            | Kind::LastWeekday { .. } => {
                let (mut y, mut m) = (from.year(), from.month());
                while (y, m) <= (to.year(), to.month()) {
                    let d = match self {
                        Kind::FixedDay { day } => NaiveDate::from_ymd_opt(y, m, *day),
                        Kind::LastDay => month::last_day(y, m),
                        Kind::NthWeekday { n, weekday } => month::nth_weekday(y, m, *weekday, *n),
                        Kind::LastWeekday { weekday } => month::last_weekday(y, m, *weekday),
                        _ => None,
                    };
                    if let Some(d) = d.filter(|d| *d >= from && *d <= to) {
                        out.push(d);
                    }
                    (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                }
            }
            Kind::Weekly { weekdays } => {
                out.extend(days(from, to).filter(|d| weekdays.contains(&d.weekday())));
            }
            Kind::WorkingDays => {
                if naive {
                    out.extend(days(from, to).filter(|d| d.weekday().num_days_from_monday() < 5));
                } else {
                    out.extend(days(from, to).filter(|d| cal.is_working_day(*d)));
                }
            }
            Kind::LunarDays {
                endings,
                leap_months,
            } => {
                out.extend(days(from, to).filter(|d| {
                    lunar::lunar_date(*d).is_some_and(|l| {
                        endings.contains(&(l.day % 10)) && (*leap_months || !l.leap)
                    })
                }));
            }
            Kind::Goal(_) => {}
        }
        out
    }

    /// The occurrences of the rule whose session falls in `[from, to]`, in date order:
    /// each nominal day with the day the session is actually held after `policy`.
    pub fn occurrences(
        &self,
        policy: HolidayPolicy,
        from: NaiveDate,
        to: NaiveDate,
        cal: &dyn HolidayCalendar,
    ) -> Vec<Occurrence> {
        if from > to {
            return Vec::new();
        }
        // A nominal day up to a month before (or after) the range can move into it.
        let lo = from.checked_sub_days(Days::new(40)).unwrap_or(from);
        let hi = to.checked_add_days(Days::new(40)).unwrap_or(to);
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for nominal in self.nominal(lo, hi, cal, false) {
            let Some(date) = apply_policy(nominal, policy, cal) else {
                continue;
            };
            if date < from || date > to || !seen.insert(date) {
                continue;
            }
            out.push(Occurrence { nominal, date });
        }
        out.sort_by_key(|o| o.date);
        out
    }

    /// The rule as an RFC 5545 / RFC 7529 recurrence (`RSCALE=CHINESE` for lunar
    /// days); `None` for a goal, which names no days.
    pub fn rrule(&self) -> Option<String> {
        Some(match self {
            Kind::FixedDay { day } => format!("FREQ=MONTHLY;BYMONTHDAY={day}"),
            Kind::LastDay => "FREQ=MONTHLY;BYMONTHDAY=-1".into(),
            Kind::NthWeekday { n, weekday } => {
                format!("FREQ=MONTHLY;BYDAY={n}{}", ical_day(*weekday))
            }
            Kind::LastWeekday { weekday } => format!("FREQ=MONTHLY;BYDAY=-1{}", ical_day(*weekday)),
            Kind::Weekly { weekdays } => format!(
                "FREQ=WEEKLY;BYDAY={}",
                weekdays
                    .iter()
                    .map(|w| ical_day(*w))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Kind::WorkingDays => "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR".into(),
            Kind::LunarDays {
                endings,
                leap_months,
            } => {
                let mut days: Vec<u8> = (1..=30).filter(|d| endings.contains(&(d % 10))).collect();
                days.sort_unstable();
                let list = days.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
                if *leap_months {
                    // SKIP=OMIT (the default): a 30th in a 29-day month does not occur.
                    format!("RSCALE=CHINESE;FREQ=MONTHLY;BYMONTHDAY={list}")
                } else {
                    format!(
                        "RSCALE=CHINESE;FREQ=MONTHLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYMONTHDAY={list}"
                    )
                }
            }
            Kind::Goal(_) => return None,
        })
    }

    /// The exceptions that make [`rrule`](Self::rrule) expand to exactly the
    /// occurrences in `[from, to]`: days it names that have no session (`EXDATE`) and
    /// session days it does not name (`RDATE`).
    pub fn exceptions(
        &self,
        policy: HolidayPolicy,
        from: NaiveDate,
        to: NaiveDate,
        cal: &dyn HolidayCalendar,
    ) -> (Vec<NaiveDate>, Vec<NaiveDate>) {
        let naive: BTreeSet<NaiveDate> = self.nominal(from, to, cal, true).into_iter().collect();
        let actual: BTreeSet<NaiveDate> = self
            .occurrences(policy, from, to, cal)
            .into_iter()
            .map(|o| o.date)
            .collect();
        (
            naive.difference(&actual).copied().collect(),
            actual.difference(&naive).copied().collect(),
        )
    }
}

/// One date a rule gives: the day it names and the day the session is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub nominal: NaiveDate,
    pub date: NaiveDate,
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// The day a session named for `d` is held under `policy`, `None` when skipped.
pub fn apply_policy(
    d: NaiveDate,
    policy: HolidayPolicy,
    cal: &dyn HolidayCalendar,
) -> Option<NaiveDate> {
    if cal.is_working_day(d) {
        return Some(d);
    }
    let step = |d: NaiveDate| match policy {
        HolidayPolicy::Skip => None,
        HolidayPolicy::NextWorkingDay => d.succ_opt(),
        HolidayPolicy::PreviousWorkingDay => d.pred_opt(),
    };
    let mut day = d;
    for _ in 0..=xf_calendar::MAX_REST_RUN {
        day = step(day)?;
        if cal.is_working_day(day) {
            return Some(day);
        }
    }
    None
}

/// A time slot of a session, local Asia/Shanghai time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Slot {
    pub fn overlaps(&self, o: &Slot) -> bool {
        self.start < o.end && o.start < self.end
    }
}

/// A rule's full specification (one version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub kind: Kind,
    pub holiday_policy: HolidayPolicy,
    pub post: String,
    /// One leader, or several in rotation (in turn, session day by session day).
    pub leaders: Vec<String>,
    pub slots: Vec<Slot>,
    pub place: String,
    pub form: Form,
    pub responsibilities: String,
    /// Appointments a session takes.
    pub capacity: u32,
    /// Rules of the same office on whose session days this rule gives none (e.g. the
    /// vice presidents' Mondays yield to the president's first Monday).
    pub yield_to: Vec<String>,
}

/// The body of a rule as given: parsed into a [`RuleSpec`] by [`RuleInput::validate`].
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// fixed_day | last_day | nth_weekday | last_weekday | weekly | working_days | lunar_days | goal
    pub kind: String,
    /// The kind's parameters (see the README's table).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// skip | next_working_day | previous_working_day; the kind's default when absent.
    #[serde(default)]
    pub holiday_policy: Option<String>,
    /// The post that receives (书记, 镇长, 院长, 值班领导 …); for a goal, unused.
    #[serde(default)]
    pub post: String,
    /// Person ids of the office: one leader, or a rotation.
    #[serde(default)]
    pub leaders: Vec<String>,
    pub slots: Vec<SlotInput>,
    pub place: String,
    /// fixed_point | appointment | cases_to_ground | follow_up | random | on_site
    pub form: String,
    #[serde(default)]
    pub responsibilities: String,
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    #[serde(default)]
    pub yield_to: Vec<String>,
    /// First day the version applies (YYYY-MM-DD).
    pub effective_from: NaiveDate,
}

fn default_capacity() -> u32 {
    10
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotInput {
    /// HH:MM, local time.
    pub start: String,
    pub end: String,
}

/// What a rule may refer to in its office.
pub struct OfficeRefs<'a> {
    /// (person id, post, is a leader)
    pub people: &'a [(String, String, bool)],
    /// Rule ids of the office (other than this one).
    pub rules: &'a [String],
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl RuleInput {
    /// Checks the rule against its office; every problem is named.
    pub fn validate(&self, refs: &OfficeRefs<'_>) -> Result<RuleSpec, Vec<Issue>> {
        let mut issues = Vec::new();
        let kind = Kind::parse(&self.kind, &self.parameters).map_err(|mut e| {
            issues.append(&mut e);
        });
        let policy = match &self.holiday_policy {
            None => None,
            Some(p) => {
                let parsed = HolidayPolicy::parse(p);
                if parsed.is_none() {
                    issues.push(Issue::new(
                        "holiday_policy",
                        "must be skip, next_working_day or previous_working_day",
                    ));
                }
                parsed
            }
        };
        let form = Form::parse(&self.form);
        if form.is_none() {
            issues.push(Issue::new(
                "form",
                "must be fixed_point, appointment, cases_to_ground, follow_up, random or on_site",
            ));
        }
        let is_goal = matches!(kind, Ok(Kind::Goal(_)));
        if !is_goal {
            if self.post.trim().is_empty() {
                issues.push(Issue::new("post", "must name the post that receives"));
            } else if self.post.chars().count() > 40 {
                issues.push(Issue::new("post", "at most 40 characters"));
            }
            if self.leaders.is_empty() {
                issues.push(Issue::new(
                    "leaders",
                    "must name the leader, or the leaders in rotation",
                ));
            }
        }
        let mut seen = Vec::new();
        for (i, l) in self.leaders.iter().enumerate() {
            match refs.people.iter().find(|(id, ..)| id == l) {
                None => issues.push(Issue::new(
                    format!("leaders[{i}]"),
                    format!("unknown person {l} in this office"),
                )),
                Some((_, _, false)) => issues.push(Issue::new(
                    format!("leaders[{i}]"),
                    format!("{l} is staff, not a leader"),
                )),
                Some(_) if seen.contains(&l) => {
                    issues.push(Issue::new(format!("leaders[{i}]"), "listed twice"))
                }
                Some(_) => seen.push(l),
            }
        }
        if let Ok(Kind::Goal(g)) = &kind {
            for (i, p) in g.posts.iter().enumerate() {
                if !refs
                    .people
                    .iter()
                    .any(|(_, post, leader)| post == p && *leader)
                {
                    issues.push(Issue::new(
                        format!("parameters.posts[{i}]"),
                        format!("no leader of this office holds the post {p}"),
                    ));
                }
            }
        }
        let mut slots: Vec<Slot> = Vec::new();
        if self.slots.is_empty() {
            issues.push(Issue::new("slots", "must give at least one time slot"));
        }
        for (i, s) in self.slots.iter().enumerate() {
            let (a, b) = (parse_time(&s.start), parse_time(&s.end));
            if a.is_none() {
                issues.push(Issue::new(format!("slots[{i}].start"), "must be HH:MM"));
            }
            if b.is_none() {
                issues.push(Issue::new(format!("slots[{i}].end"), "must be HH:MM"));
            }
            if let (Some(start), Some(end)) = (a, b) {
                let slot = Slot { start, end };
                if end <= start {
                    issues.push(Issue::new(
                        format!("slots[{i}].end"),
                        "must be after the start",
                    ));
                } else if slots.iter().any(|o| o.overlaps(&slot)) {
                    issues.push(Issue::new(
                        format!("slots[{i}]"),
                        "overlaps another slot of the rule",
                    ));
                } else {
                    slots.push(slot);
                }
            }
        }
        slots.sort_by_key(|s| s.start);
        if self.place.trim().is_empty() {
            issues.push(Issue::new("place", "must not be empty"));
        } else if self.place.chars().count() > 100 {
            issues.push(Issue::new("place", "at most 100 characters"));
        }
        if self.responsibilities.chars().count() > 200 {
            issues.push(Issue::new("responsibilities", "at most 200 characters"));
        }
        if !(1..=500).contains(&self.capacity) {
            issues.push(Issue::new("capacity", "must be 1 to 500"));
        }
        for (i, r) in self.yield_to.iter().enumerate() {
            if !refs.rules.contains(r) {
                issues.push(Issue::new(
                    format!("yield_to[{i}]"),
                    format!("unknown rule {r} in this office"),
                ));
            }
        }
        if !(2000..=2100).contains(&self.effective_from.year()) {
            issues.push(Issue::new("effective_from", "must be in 2000 to 2100"));
        }
        match (kind, form) {
            (Ok(kind), Some(form)) if issues.is_empty() => Ok(RuleSpec {
                holiday_policy: policy.unwrap_or_else(|| kind.default_policy()),
                kind,
                post: self.post.trim().to_owned(),
                leaders: self.leaders.clone(),
                slots,
                place: self.place.trim().to_owned(),
                form,
                responsibilities: self.responsibilities.trim().to_owned(),
                capacity: self.capacity,
                yield_to: self.yield_to.clone(),
            }),
            _ => Err(issues),
        }
    }
}

impl RuleSpec {
    /// Back to the input shape (for storing and listing).
    pub fn to_input(&self, effective_from: NaiveDate) -> RuleInput {
        RuleInput {
            kind: self.kind.name().into(),
            parameters: self.kind.parameters(),
            holiday_policy: Some(self.holiday_policy.as_str().into()),
            post: self.post.clone(),
            leaders: self.leaders.clone(),
            slots: self
                .slots
                .iter()
                .map(|s| SlotInput {
                    start: s.start.format("%H:%M").to_string(),
                    end: s.end.format("%H:%M").to_string(),
                })
                .collect(),
            place: self.place.clone(),
            form: self.form.as_str().into(),
            responsibilities: self.responsibilities.clone(),
            capacity: self.capacity,
            yield_to: self.yield_to.clone(),
            effective_from,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use xf_calendar::{OfficialCalendar, WeekdaysOnly};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn kind(k: &str, p: serde_json::Value) -> Kind {
        Kind::parse(k, &p).expect("valid kind")
    }

    fn dates(k: &Kind, p: HolidayPolicy, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        k.occurrences(p, from, to, &OfficialCalendar)
            .into_iter()
            .map(|o| o.date)
            .collect()
    }

    #[test]
    fn fixed_day_refuses_days_that_do_not_exist_every_month() {
        for d in [29, 30, 31] {
            let e = Kind::parse("fixed_day", &json!({"day": d})).expect_err("refused");
            assert_eq!(e[0].field, "parameters.day");
            assert!(e[0].message.contains("last_day"), "{}", e[0].message);
        }
        for bad in [
            json!({"day": 0}),
            json!({"day": "x"}),
            json!({}),
            json!({"day": 15, "x": 1}),
        ] {
            assert!(Kind::parse("fixed_day", &bad).is_err(), "{bad}");
        }
        assert!(Kind::parse("fortnightly", &json!({})).is_err());
        assert_eq!(
            Kind::parse("nth_weekday", &json!({"n": 5, "weekday": "monday"})).expect_err("5th")[0]
                .field,
            "parameters.n"
        );
        let e = Kind::parse("lunar_days", &json!({"endings": [3, 3, 12]})).expect_err("bad");
        assert_eq!(e.len(), 2);
        let e = Kind::parse(
            "goal",
            &json!({"posts": [], "every_months": 5, "min_per_year": 0}),
        )
        .expect_err("bad goal");
        let fields: Vec<_> = e.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "parameters.posts",
                "parameters.every_months",
                "parameters.min_per_year"
            ]
        );
    }

    #[test]
    fn the_15th_on_a_holiday_moves_to_the_next_working_day() {
        let k = kind("fixed_day", json!({"day": 15}));
        assert_eq!(k.default_policy(), HolidayPolicy::NextWorkingDay);
        // 2025: Feb 15 is a Saturday → Mon Feb 17; Mar 15 Sat → Mar 17; Jun 15 Sun →
        // Jun 16; Nov 15 Sat → Nov 17.
        let got = dates(&k, k.default_policy(), date(2025, 1, 1), date(2025, 12, 31));
        assert_eq!(got.len(), 12);
        assert_eq!(got[1], date(2025, 2, 17));
        assert_eq!(got[2], date(2025, 3, 17));
        assert_eq!(got[5], date(2025, 6, 16));
        assert_eq!(got[10], date(2025, 11, 17));
        // Skipping instead: those months have none.
        let skip = dates(
            &k,
            HolidayPolicy::Skip,
            date(2025, 1, 1),
            date(2025, 12, 31),
        );
        assert!(!skip.contains(&date(2025, 2, 17)));
        assert_eq!(skip.len(), 12 - 4);
    }

    #[test]
    fn last_day_including_february_and_holidays() {
        let k = kind("last_day", json!({}));
        let p = k.default_policy();
        // 2025-02-28 is a Friday: held. 2028-02-29 (leap year) is a Tuesday: held.
        assert_eq!(
            dates(&k, p, date(2025, 2, 1), date(2025, 2, 28)),
            [date(2025, 2, 28)]
        );
        assert_eq!(
            dates(&k, p, date(2028, 2, 1), date(2028, 2, 29)),
            [date(2028, 2, 29)]
        );
        // 2026-02-28 is a make-up working Saturday (2026 notice): held that day.
        assert_eq!(
            dates(&k, p, date(2026, 2, 1), date(2026, 2, 28)),
            [date(2026, 2, 28)]
        );
        // 2025-05-31 is a Saturday of the Dragon Boat holiday (5/31–6/2): the working
        // day before is Fri 2025-05-30.
        assert_eq!(
            dates(&k, p, date(2025, 5, 1), date(2025, 5, 31)),
            [date(2025, 5, 30)]
        );
        // 2025-08-31 is a Sunday → Fri 2025-08-29.
        assert_eq!(
            dates(&k, p, date(2025, 8, 1), date(2025, 8, 31)),
            [date(2025, 8, 29)]
        );
    }

    #[test]
    fn first_monday_in_national_day_week_moves() {
        let k = kind("nth_weekday", json!({"n": 1, "weekday": "monday"}));
        // 2025-10-06 is the first Monday of October, inside the National Day holiday
        // (10/1–10/8): the next working day is Thu 2025-10-09.
        assert_eq!(
            dates(
                &k,
                k.default_policy(),
                date(2025, 10, 1),
                date(2025, 10, 31)
            ),
            [date(2025, 10, 9)]
        );
        // 2026-10-05 is inside 10/1–10/7 → Thu 2026-10-08.
        assert_eq!(
            dates(
                &k,
                k.default_policy(),
                date(2026, 10, 1),
                date(2026, 10, 31)
            ),
            [date(2026, 10, 8)]
        );
    }

    #[test]
    fn weekly_mondays_skip_holidays_and_ignore_make_up_saturdays() {
        let k = kind("weekly", json!({"weekdays": ["monday"]}));
        // Spring Festival 2025 (1/28–2/4, make-up Sun 1/26 and Sat 2/8): Mondays Jan 27
        // and Feb 10 are held, Feb 3 is a holiday and skipped; the make-up days are not
        // Mondays.
        assert_eq!(
            dates(&k, k.default_policy(), date(2025, 1, 20), date(2025, 2, 16)),
            [date(2025, 1, 20), date(2025, 1, 27), date(2025, 2, 10)]
        );
    }

    #[test]
    fn working_days_count_make_up_saturdays() {
        let k = kind("working_days", json!({}));
        // National Day 2025: Sun 9/28 is a make-up day, 10/1–10/8 rest, Sat 10/11 make-up.
        let got = dates(
            &k,
            k.default_policy(),
            date(2025, 9, 27),
            date(2025, 10, 12),
        );
        assert_eq!(
            got,
            [
                date(2025, 9, 28),
                date(2025, 9, 29),
                date(2025, 9, 30),
                date(2025, 10, 9),
                date(2025, 10, 10),
                date(2025, 10, 11)
            ]
        );
    }

    #[test]
    fn lunar_3_6_9_includes_the_leap_sixth_month_of_2025() {
        let k = kind("lunar_days", json!({"endings": [3, 6, 9]}));
        assert_eq!(k.default_policy(), HolidayPolicy::Skip);
        let got = dates(&k, k.default_policy(), date(2025, 7, 25), date(2025, 8, 22));
        // 闰六月 2025 runs Fri 7/25 (初一) to Fri 8/22 (廿九). Its 3/6/9 days: 7/27
        // (初三, Sun: skipped), 7/30 (初六), 8/2 (初九, Sat), 8/6 (十三), 8/9 (十六, Sat),
        // 8/12 (十九), 8/16 (廿三, Sat), 8/19 (廿六), 8/22 (廿九).
        assert_eq!(
            got,
            [
                date(2025, 7, 30),
                date(2025, 8, 6),
                date(2025, 8, 12),
                date(2025, 8, 19),
                date(2025, 8, 22)
            ]
        );
        let without = kind(
            "lunar_days",
            json!({"endings": [3, 6, 9], "leap_months": false}),
        );
        assert!(
            dates(
                &without,
                HolidayPolicy::Skip,
                date(2025, 7, 25),
                date(2025, 8, 22)
            )
            .is_empty()
        );
        for o in k.occurrences(
            HolidayPolicy::Skip,
            date(2025, 1, 1),
            date(2028, 12, 31),
            &OfficialCalendar,
        ) {
            let l = lunar::lunar_date(o.date).expect("lunar");
            assert!(
                matches!(l.day, 3 | 6 | 9 | 13 | 16 | 19 | 23 | 26 | 29),
                "{o:?}"
            );
            assert!(OfficialCalendar.is_working_day(o.date), "{o:?}");
            assert_eq!(o.nominal, o.date);
        }
    }

    #[test]
    fn rrules_and_their_exceptions() {
        let lunar = kind("lunar_days", json!({"endings": [3, 6, 9]}));
        assert_eq!(
            lunar.rrule().as_deref(),
            Some("RSCALE=CHINESE;FREQ=MONTHLY;BYMONTHDAY=3,6,9,13,16,19,23,26,29")
        );
        assert_eq!(
            kind("nth_weekday", json!({"n": 1, "weekday": "monday"}))
                .rrule()
                .as_deref(),
            Some("FREQ=MONTHLY;BYDAY=1MO")
        );
        assert_eq!(
            kind("last_weekday", json!({"weekday": "monday"}))
                .rrule()
                .as_deref(),
            Some("FREQ=MONTHLY;BYDAY=-1MO")
        );
        assert_eq!(
            kind("last_day", json!({})).rrule().as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=-1")
        );
        let fifteen = kind("fixed_day", json!({"day": 15}));
        let (ex, r) = fifteen.exceptions(
            HolidayPolicy::NextWorkingDay,
            date(2025, 1, 1),
            date(2025, 3, 31),
            &OfficialCalendar,
        );
        assert_eq!(ex, [date(2025, 2, 15), date(2025, 3, 15)]);
        assert_eq!(r, [date(2025, 2, 17), date(2025, 3, 17)]);
        let wd = kind("working_days", json!({}));
        let (ex, r) = wd.exceptions(
            HolidayPolicy::Skip,
            date(2025, 9, 27),
            date(2025, 10, 12),
            &OfficialCalendar,
        );
        assert_eq!(ex.len(), 6, "Oct 1–3 and 6–8 {ex:?}");
        assert_eq!(r, [date(2025, 9, 28), date(2025, 10, 11)]);
    }

    fn refs() -> (Vec<(String, String, bool)>, Vec<String>) {
        (
            vec![
                ("sj".into(), "书记".into(), true),
                ("zr".into(), "主任".into(), true),
                ("wy".into(), "委员".into(), false),
            ],
            vec!["other".into()],
        )
    }

    fn input(v: serde_json::Value) -> RuleInput {
        serde_json::from_value(v).expect("shape")
    }

    #[test]
    fn a_rule_names_every_bad_field() {
        let (people, rules) = refs();
        let r = OfficeRefs {
            people: &people,
            rules: &rules,
        };
        let bad = input(json!({
            "kind": "fixed_day", "parameters": {"day": 31}, "post": "", "leaders": ["nobody", "wy"],
            "slots": [{"start": "9:xx", "end": "12:00"}, {"start": "14:00", "end": "13:00"}],
            "place": " ", "form": "party", "capacity": 0, "yield_to": ["missing"],
            "holiday_policy": "whenever", "effective_from": "2025-01-01"}));
        let e = bad.validate(&r).expect_err("refused");
        let mut fields: Vec<_> = e.iter().map(|i| i.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "capacity",
                "form",
                "holiday_policy",
                "leaders[0]",
                "leaders[1]",
                "parameters.day",
                "place",
                "post",
                "slots[0].start",
                "slots[1].end",
                "yield_to[0]"
            ]
        );
        let good = input(json!({
            "kind": "fixed_day", "parameters": {"day": 15}, "post": "书记", "leaders": ["sj"],
            "slots": [{"start": "09:00", "end": "12:00"}], "place": "村委会", "form": "fixed_point",
            "effective_from": "2025-01-01"}));
        let spec = good.validate(&r).expect("valid");
        assert_eq!(spec.holiday_policy, HolidayPolicy::NextWorkingDay);
        assert_eq!(spec.capacity, 10);
        let back = spec.to_input(date(2025, 1, 1));
        assert_eq!(back.validate(&r), Ok(spec));
        let goal = input(json!({
            "kind": "goal", "parameters": {"posts": ["镇长"], "every_months": 2, "min_per_year": 6},
            "slots": [{"start": "09:00", "end": "12:00"}], "place": "x", "form": "fixed_point",
            "effective_from": "2025-01-01"}));
        assert_eq!(
            goal.validate(&r).expect_err("no mayor")[0].field,
            "parameters.posts[0]"
        );
    }

    proptest::proptest! {
        /// Every occurrence lies in the range, in date order, on a working day unless
        /// the calendar has none; a skipping rule's session days are its named days.
        #[test]
        fn occurrences_are_working_days_in_range(
            y in 2025i32..=2028, m in 1u32..=12, span in 0u64..120, day in 1u32..=28,
            kind_ix in 0usize..6, policy_ix in 0usize..3,
        ) {
            let from = date(y, m, 1);
            let to = from + Days::new(span);
            let k = match kind_ix {
                0 => Kind::FixedDay { day },
                1 => Kind::LastDay,
                2 => Kind::NthWeekday { n: u8::try_from(day % 4 + 1).unwrap_or(1), weekday: Weekday::Mon },
                3 => Kind::LastWeekday { weekday: Weekday::Mon },
                4 => Kind::Weekly { weekdays: vec![Weekday::Mon, Weekday::Thu] },
                _ => Kind::LunarDays { endings: vec![3, 6, 9], leap_months: true },
            };
            let policy = HolidayPolicy::ALL[policy_ix];
            let occ = k.occurrences(policy, from, to, &OfficialCalendar);
            for w in occ.windows(2) {
                proptest::prop_assert!(w[0].date < w[1].date);
            }
            for o in &occ {
                proptest::prop_assert!(o.date >= from && o.date <= to);
                proptest::prop_assert!(OfficialCalendar.is_working_day(o.date));
                if policy == HolidayPolicy::Skip {
                    proptest::prop_assert_eq!(o.nominal, o.date);
                }
            }
            // On a calendar with no holidays, a moving policy changes nothing but weekends.
            let plain = k.occurrences(policy, from, to, &WeekdaysOnly);
            for o in &plain {
                proptest::prop_assert!(o.date.weekday().num_days_from_monday() < 5);
            }
        }
    }
}
