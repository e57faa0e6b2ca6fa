//! What reporting computes, without I/O: a case's facts folded from its events, the
//! statistics query, the monthly report's comparisons, the unit assessment score and
//! the hotspot tests.

pub mod assess;
pub mod hotspot;
pub mod query;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;
use xf_events::status::{self, Status};
use xf_events::v1::{
    Channel, EscalationReason, FollowUpSatisfaction, ReplyOutcome, Stage, envelope::Payload,
};
use xf_events::{Envelope, Event};

/// One event of a case as the ledger keeps it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub tier: String,
    pub jurisdiction_code: String,
    pub payload: Payload,
}

impl Entry {
    pub fn of(ev: &Event) -> Option<Entry> {
        Some(Entry {
            event_id: ev.event_id,
            occurred_at: ev.occurred_at,
            tier: xf_events::tier_name(ev.tier()).to_owned(),
            jurisdiction_code: ev.envelope.jurisdiction_code.clone(),
            payload: ev.payload()?.clone(),
        })
    }
}

/// Whether an event is about a case (session, hotspot and report events are not).
pub fn is_case_event(p: &Payload) -> bool {
    !matches!(
        p,
        Payload::ReceptionSessionScheduled(_)
            | Payload::ReceptionSessionChanged(_)
            | Payload::ReceptionSessionCancelled(_)
            | Payload::HotspotDetected(_)
            | Payload::MonthlyReportIssued(_)
    )
}

/// The envelope as the ledger stores it: free text (reasons, alert texts, place names,
/// unit names) and the petitioner's pseudonymous id cleared. Codes, units, tiers,
/// flags, times and the similarity signature stay.
pub fn sanitize(env: &Envelope) -> Envelope {
    let mut e = env.clone();
    if let Some(p) = e.payload.as_mut() {
        match p {
            Payload::CaseRegistered(r) => {
                r.petitioner_pid.clear();
                r.superior_reference.clear();
            }
            Payload::CaseDispatched(d) => {
                d.unit_name.clear();
                d.superior_reference.clear();
            }
            Payload::CaseNotAccepted(n) => n.reason.clear(),
            Payload::UrgentAlertRaised(a) => a.reason.clear(),
            Payload::AppointmentBooked(b) => b.place.clear(),
            Payload::AppointmentMoved(m) => m.place.clear(),
            Payload::ReviewRequested(r) => r.reason_category.clear(),
            _ => {}
        }
    }
    e
}

/// The name of a channel.
pub fn channel_name(c: i32) -> &'static str {
    match Channel::try_from(c) {
        Ok(Channel::Letter) => "letter",
        Ok(Channel::Visit) => "visit",
        Ok(Channel::Phone) => "phone",
        Ok(Channel::Online) => "online",
        _ => "unspecified",
    }
}

/// The channels a filter may name.
pub const CHANNELS: [&str; 4] = ["letter", "visit", "phone", "online"];

fn outcome_name(o: i32) -> Option<&'static str> {
    match ReplyOutcome::try_from(o) {
        Ok(ReplyOutcome::Support) => Some("support"),
        Ok(ReplyOutcome::Explain) => Some("explain"),
        Ok(ReplyOutcome::NotSupport) => Some("not_support"),
        _ => None,
    }
}

/// One stay of a case at a tier, place and unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub tier: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub entered_at: DateTime<Utc>,
}

/// Everything reporting knows of one case, folded from its events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    pub registration_no: Option<String>,
    pub category: Option<String>,
    pub channel: Option<&'static str>,
    pub matter_code: Option<String>,
    pub office_code: Option<String>,
    pub collective: bool,
    pub headcount: i32,
    pub confidential: bool,
    pub excluded_unit_id: Option<String>,
    pub registered_at: Option<DateTime<Utc>>,
    pub status: &'static str,
    pub tier: String,
    pub jurisdiction_code: String,
    pub unit_id: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub events: i32,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub not_accepted_at: Option<DateTime<Utc>>,
    pub referred: bool,
    pub replied_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reply_outcome: Option<&'static str>,
    pub acceptance_late: bool,
    pub handling_late: bool,
    pub overdue: bool,
    pub breaches: i32,
    pub extensions: i32,
    pub escalations: i32,
    pub skip_level: bool,
    pub reviews_asked: i32,
    pub reviews_upheld: i32,
    pub reviews_reversed: i32,
    pub repeat_petition: bool,
    pub followed_unit_id: Option<String>,
    pub satisfaction_score: Option<i32>,
    pub follow_ups: i32,
    pub follow_ups_reached: i32,
    pub follow_ups_satisfied: i32,
    pub follow_ups_overdue: i32,
    pub appointments: i32,
    pub leader_ids: Vec<String>,
    pub leader_title: Option<String>,
    pub group_id: Option<Uuid>,
    pub signature: Vec<i32>,
    pub visits: Vec<Visit>,
    /// Distinct pauses of any of its clocks (`ClockPaused`/`ClockResumed`).
    pub pauses: i32,
    /// Seconds excluded from its deadlines by pauses: per stage the largest
    /// `paused_secs_total` a `ClockResumed` reported, summed over the stages.
    pub paused_secs: i64,
    /// Whether a clock of the open case is paused now (a pause not yet resumed).
    pub paused_now: bool,
}

fn to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Folds a case's events, in any order and with duplicates, into its facts: the entries
/// are sorted by time (then event id) and every count is of distinct things (a breach
/// by stage and due moment, an escalation by where it went, a follow-up by visit id),
/// so the same set of events always gives the same facts.
pub fn fold(entries: &[Entry]) -> Facts {
    let mut es: Vec<&Entry> = entries.iter().collect();
    es.sort_by_key(|a| (a.occurred_at, a.event_id));
    es.dedup_by_key(|e| e.event_id);
    let mut f = Facts {
        status: Status::Registered.as_str(),
        ..Facts::default()
    };
    let mut breaches = BTreeSet::new();
    let mut extensions = BTreeSet::new();
    let mut escalations = BTreeSet::new();
    let mut reviews = BTreeSet::new();
    let mut visits_seen = BTreeSet::new();
    let mut reached = BTreeSet::new();
    let mut satisfied = BTreeSet::new();
    let mut overdue_visits = BTreeSet::new();
    let mut appointments = BTreeSet::new();
    let mut leaders = BTreeSet::new();
    // A pause is known by its clock's stage and the paused time the clock had used
    // before it (`paused_secs_before`, or `paused_secs_total - excluded_secs` of its
    // resumption), so a redelivery, a resumption seen first or alone, all count once.
    let mut pauses: BTreeSet<(i32, u64)> = BTreeSet::new();
    // Per stage, whether its last pause event (in time order) paused it.
    let mut paused_last: BTreeMap<i32, bool> = BTreeMap::new();
    let mut paused_total: BTreeMap<i32, u64> = BTreeMap::new();
    // (review level, outcome) of each reply, in order.
    let mut replies: Vec<(u32, &'static str)> = Vec::new();
    let mut level = 0u32;
    let mut registered_at_place: Option<Visit> = None;
    for e in &es {
        f.events += 1;
        f.updated_at = Some(e.occurred_at);
        if !e.jurisdiction_code.is_empty() {
            f.tier.clone_from(&e.tier);
            f.jurisdiction_code.clone_from(&e.jurisdiction_code);
        }
        if let Some(s) = status::after(&e.payload) {
            f.status = s.as_str();
        }
        match &e.payload {
            Payload::CaseRegistered(r) => {
                f.registration_no = Some(r.registration_no.clone());
                f.category = Some(r.category.clone());
                f.channel = Some(channel_name(r.channel));
                f.matter_code = Some(r.matter_jurisdiction_code.clone()).filter(|c| !c.is_empty());
                f.office_code = Some(r.office_jurisdiction_code.clone()).filter(|c| !c.is_empty());
                f.collective = r.collective;
                f.headcount = i32::try_from(r.headcount).unwrap_or(i32::MAX);
                f.confidential = r.confidential;
                f.excluded_unit_id = Some(r.excluded_unit_id.clone()).filter(|u| !u.is_empty());
                f.registered_at =
                    xf_events::from_timestamp(r.received_at.as_ref()).or(Some(e.occurred_at));
                f.referred |= !r.referral_channel.is_empty();
                f.signature = r.signature.iter().map(|&v| v as i32).collect();
                registered_at_place = Some(Visit {
                    tier: e.tier.clone(),
                    jurisdiction_code: e.jurisdiction_code.clone(),
                    unit_id: None,
                    entered_at: e.occurred_at,
                });
            }
            Payload::CaseDispatched(d) => {
                f.dispatched_at.get_or_insert(e.occurred_at);
                f.unit_id = Some(d.unit_id.clone()).filter(|u| !u.is_empty());
                level = d.review_level;
                let tier = xf_events::v1::Tier::try_from(d.tier)
                    .map(xf_events::tier_name)
                    .unwrap_or("unspecified")
                    .to_owned();
                f.tier.clone_from(&tier);
                f.jurisdiction_code.clone_from(&d.jurisdiction_code);
                visit(
                    &mut f.visits,
                    &tier,
                    &d.jurisdiction_code,
                    f.unit_id.clone(),
                    e,
                );
                f.skip_level |= d.skip_level;
                if !d.leader_id.is_empty() {
                    leaders.insert(d.leader_id.clone());
                }
            }
            Payload::CaseTransferred(t) => {
                f.unit_id = Some(t.to_unit_id.clone()).filter(|u| !u.is_empty());
                let (tier, code) = (f.tier.clone(), f.jurisdiction_code.clone());
                visit(&mut f.visits, &tier, &code, f.unit_id.clone(), e);
            }
            Payload::CaseAccepted(_) => {
                f.accepted_at.get_or_insert(e.occurred_at);
            }
            Payload::CaseNotAccepted(n) => {
                f.not_accepted_at.get_or_insert(e.occurred_at);
                f.referred |= !n.referral_channel.is_empty();
            }
            Payload::ReplyIssued(r) => {
                f.replied_at = Some(e.occurred_at);
                if let Some(o) = outcome_name(r.outcome) {
                    f.reply_outcome = Some(o);
                    replies.push((level, o));
                }
            }
            Payload::CaseClosed(_) => f.closed_at = Some(e.occurred_at),
            Payload::DeadlineBreached(b) => {
                breaches.insert((b.stage, b.due_at.as_ref().map(|t| (t.seconds, t.nanos))));
                match Stage::try_from(b.stage) {
                    Ok(Stage::Acceptance) => f.acceptance_late = true,
                    Ok(Stage::Handling | Stage::Review | Stage::Rereview) => f.handling_late = true,
                    _ => {}
                }
            }
            Payload::DeadlineExtended(x) => {
                extensions.insert((x.stage, x.new_due_at.as_ref().map(|t| t.seconds)));
            }
            Payload::CaseEscalated(x) if x.reason == EscalationReason::SkipLevel as i32 => {
                f.skip_level = true;
                if !x.from_unit_id.is_empty() {
                    f.followed_unit_id = Some(x.from_unit_id.clone());
                }
            }
            Payload::CaseEscalated(x) => {
                escalations.insert((x.to_tier, x.to_jurisdiction_code.clone()));
                let tier = xf_events::v1::Tier::try_from(x.to_tier)
                    .map(xf_events::tier_name)
                    .unwrap_or("unspecified")
                    .to_owned();
                if !x.to_jurisdiction_code.is_empty() {
                    f.tier.clone_from(&tier);
                    f.jurisdiction_code.clone_from(&x.to_jurisdiction_code);
                    visit(&mut f.visits, &tier, &x.to_jurisdiction_code, None, e);
                    f.unit_id = None;
                }
            }
            Payload::ReviewRequested(r) => {
                reviews.insert(r.kind);
            }
            Payload::DuplicateLinked(d) => {
                f.repeat_petition |= d.repeat_petition;
                f.skip_level |= d.skip_level;
                if (d.repeat_petition || d.skip_level) && !d.original_unit_id.is_empty() {
                    f.followed_unit_id = Some(d.original_unit_id.clone());
                }
            }
            Payload::FollowUpScheduled(s) => {
                visits_seen.insert(s.visit_id.clone());
                if !s.leader_id.is_empty() {
                    leaders.insert(s.leader_id.clone());
                }
            }
            Payload::FollowUpCompleted(c) => {
                visits_seen.insert(c.visit_id.clone());
                if c.reached {
                    reached.insert(c.visit_id.clone());
                }
                if matches!(
                    FollowUpSatisfaction::try_from(c.satisfaction),
                    Ok(FollowUpSatisfaction::Satisfied | FollowUpSatisfaction::BasicallySatisfied)
                ) {
                    satisfied.insert(c.visit_id.clone());
                }
            }
            Payload::FollowUpOverdue(o) => {
                visits_seen.insert(o.visit_id.clone());
                overdue_visits.insert(o.visit_id.clone());
            }
            Payload::AppointmentBooked(b) => {
                appointments.insert(b.appointment_id.clone());
            }
            Payload::AppointmentMoved(m) => {
                appointments.insert(m.appointment_id.clone());
            }
            Payload::SatisfactionRecorded(s) => {
                f.satisfaction_score = Some(i32::try_from(s.score.clamp(1, 5)).unwrap_or(3));
            }
            Payload::LeaderOwnershipAssigned(l) => {
                leaders.insert(l.leader_id.clone());
                f.leader_title = Some(l.leader_title.clone()).filter(|x| !x.is_empty());
            }
            Payload::LeaderOwnershipReleased(_) => f.leader_title = None,
            Payload::CollectiveIssueGrouped(g) => {
                f.group_id = Uuid::parse_str(&g.group_id).ok();
            }
            Payload::ClockPaused(p) => {
                pauses.insert((p.stage, p.paused_secs_before));
                paused_last.insert(p.stage, true);
            }
            Payload::ClockResumed(r) => {
                let before = r.paused_secs_total.saturating_sub(r.excluded_secs);
                pauses.insert((r.stage, before));
                paused_last.insert(r.stage, false);
                let t = paused_total.entry(r.stage).or_default();
                *t = (*t).max(r.paused_secs_total);
            }
            _ => {}
        }
    }
    if f.visits.is_empty()
        && let Some(v) = registered_at_place
    {
        f.visits.push(v);
    }
    f.breaches = to_i32(breaches.len());
    f.overdue = !breaches.is_empty();
    f.extensions = to_i32(extensions.len());
    f.escalations = to_i32(escalations.len());
    f.reviews_asked = to_i32(reviews.len());
    f.follow_ups = to_i32(visits_seen.len());
    f.follow_ups_reached = to_i32(reached.len());
    f.follow_ups_satisfied = to_i32(satisfied.len());
    f.follow_ups_overdue = to_i32(overdue_visits.len());
    f.appointments = to_i32(appointments.len());
    f.pauses = to_i32(pauses.len());
    f.paused_secs = paused_total.values().fold(0i64, |a, &s| {
        a.saturating_add(i64::try_from(s).unwrap_or(i64::MAX))
    });
    // A closed case's clocks are stopped.
    f.paused_now = f.closed_at.is_none() && paused_last.values().any(|&p| p);
    leaders.remove("");
    f.leader_ids = leaders.into_iter().collect();
    // A review upholds the decision when its reply has the outcome of the reply before
    // it, and reverses it otherwise.
    for w in replies.windows(2) {
        let ((l0, o0), (l1, o1)) = (w[0], w[1]);
        if l1 > l0 {
            if o0 == o1 {
                f.reviews_upheld += 1;
            } else {
                f.reviews_reversed += 1;
            }
        }
    }
    f
}

/// Adds a stay unless the case is already there; fills in the unit of a stay that
/// began with an escalation (the unit comes with the dispatch that follows).
fn visit(vs: &mut Vec<Visit>, tier: &str, code: &str, unit: Option<String>, e: &Entry) {
    if let Some(last) = vs.last_mut()
        && last.tier == tier
        && last.jurisdiction_code == code
    {
        if last.unit_id.is_none() || last.unit_id == unit {
            if unit.is_some() {
                last.unit_id = unit;
            }
            return;
        }
        if unit.is_none() {
            return;
        }
    }
    vs.push(Visit {
        tier: tier.to_owned(),
        jurisdiction_code: code.to_owned(),
        unit_id: unit,
        entered_at: e.occurred_at,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use xf_events::v1::{
        CaseAccepted, CaseClosed, CaseDispatched, CaseEscalated, CaseRegistered, DeadlineBreached,
        ReplyIssued, Tier,
    };

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_760_000_000 + min * 60, 0).expect("time")
    }

    fn entry(min: i64, code: &str, p: Payload) -> Entry {
        Entry {
            event_id: Uuid::now_v7(),
            occurred_at: at(min),
            tier: xf_events::tier_name(xf_events::tier_of_code(code)).into(),
            jurisdiction_code: code.into(),
            payload: p,
        }
    }

    fn dispatch(tier: Tier, code: &str, unit: &str) -> Payload {
        Payload::CaseDispatched(CaseDispatched {
            unit_id: unit.into(),
            tier: tier as i32,
            jurisdiction_code: code.into(),
            ..Default::default()
        })
    }

    fn escalate(to: Tier, code: &str) -> Payload {
        Payload::CaseEscalated(CaseEscalated {
            reason: EscalationReason::Overdue as i32,
            to_tier: to as i32,
            to_jurisdiction_code: code.into(),
            ..Default::default()
        })
    }

    fn path() -> Vec<Entry> {
        let v = "330122002200";
        vec![
            entry(
                0,
                v,
                Payload::CaseRegistered(CaseRegistered {
                    registration_no: "330122-2026-000001".into(),
                    category: "land".into(),
                    matter_jurisdiction_code: v.into(),
                    ..Default::default()
                }),
            ),
            entry(1, v, dispatch(Tier::Village, v, "v-unit")),
            entry(
                20,
                v,
                Payload::DeadlineBreached(DeadlineBreached {
                    stage: Stage::Acceptance as i32,
                    ..Default::default()
                }),
            ),
            entry(21, v, escalate(Tier::Township, "330122002")),
            entry(
                22,
                "330122002",
                dispatch(Tier::Township, "330122002", "t-unit"),
            ),
            entry(40, "330122002", escalate(Tier::County, "330122")),
            entry(41, "330122", dispatch(Tier::County, "330122", "c-unit")),
            entry(
                42,
                "330122",
                Payload::CaseAccepted(CaseAccepted {
                    unit_id: "c-unit".into(),
                }),
            ),
            entry(
                50,
                "330122",
                Payload::ReplyIssued(ReplyIssued {
                    unit_id: "c-unit".into(),
                    outcome: ReplyOutcome::Support as i32,
                    text_length: 3,
                }),
            ),
            entry(
                51,
                "330122",
                Payload::CaseClosed(CaseClosed {
                    unit_id: "c-unit".into(),
                    ..Default::default()
                }),
            ),
        ]
    }

    #[test]
    fn the_path_village_township_county_is_kept() {
        let f = fold(&path());
        let tiers: Vec<_> = f
            .visits
            .iter()
            .map(|v| (v.tier.as_str(), v.unit_id.as_deref()))
            .collect();
        assert_eq!(
            tiers,
            [
                ("village", Some("v-unit")),
                ("township", Some("t-unit")),
                ("county", Some("c-unit"))
            ]
        );
        assert_eq!(f.status, "closed");
        assert_eq!(f.escalations, 2);
        assert!(f.acceptance_late && !f.handling_late);
        assert_eq!(f.tier, "county");
        assert_eq!(f.unit_id.as_deref(), Some("c-unit"));
    }

    #[test]
    fn any_order_and_duplicates_give_the_same_facts() {
        let es = path();
        let want = fold(&es);
        let mut rev = es.clone();
        rev.reverse();
        assert_eq!(fold(&rev), want);
        let mut twice = es.clone();
        twice.extend(es.iter().cloned());
        assert_eq!(fold(&twice), want);
        // A redelivery under a new event id counts the same breach once.
        let mut again = es.clone();
        let mut b = es[2].clone();
        b.event_id = Uuid::now_v7();
        again.push(b);
        let f = fold(&again);
        assert_eq!(f.breaches, 1);
        // Rotations of the list, too.
        for k in 1..es.len() {
            let mut r = es.clone();
            r.rotate_left(k);
            assert_eq!(fold(&r), want, "rotation {k}");
        }
    }

    fn paused(min: i64, stage: Stage, before: u64) -> Entry {
        entry(
            min,
            "330122002200",
            Payload::ClockPaused(xf_events::v1::ClockPaused {
                stage: stage as i32,
                planned_days: 5,
                paused_secs_before: before,
                ..Default::default()
            }),
        )
    }

    fn resumed(min: i64, stage: Stage, excluded: u64, total: u64) -> Entry {
        entry(
            min,
            "330122002200",
            Payload::ClockResumed(xf_events::v1::ClockResumed {
                stage: stage as i32,
                excluded_secs: excluded,
                paused_secs_total: total,
                due_at: None,
            }),
        )
    }

    #[test]
    fn pauses_count_once_in_any_order() {
        let day = 86_400;
        // Handling paused twice (2 days, then 1.5 days), acceptance once (3 hours).
        let mut es = path();
        es.pop(); // not closed yet
        es.extend([
            paused(43, Stage::Handling, 0),
            resumed(43 + 1, Stage::Handling, 2 * day, 2 * day),
            paused(45, Stage::Handling, 2 * day),
            resumed(46, Stage::Handling, day + day / 2, 3 * day + day / 2),
            paused(2, Stage::Acceptance, 0),
            resumed(3, Stage::Acceptance, 3 * 3600, 3 * 3600),
        ]);
        let f = fold(&es);
        assert_eq!(f.pauses, 3);
        assert_eq!(f.paused_secs, 3 * 86_400 + 43_200 + 3 * 3600);
        assert!(!f.paused_now);
        assert_eq!(report::paused_days(f.paused_secs), 4);
        let c = report::contributions(&f);
        assert_eq!(&c[24..], [1, 4]);
        // Reversed, doubled, a resumption redelivered under a new id, rotated: the same.
        let mut rev = es.clone();
        rev.reverse();
        assert_eq!(fold(&rev), f);
        let mut twice = es.clone();
        twice.extend(es.iter().cloned());
        assert_eq!(fold(&twice), f);
        let mut again = es.clone();
        let mut r = es[es.len() - 3].clone();
        r.event_id = Uuid::now_v7();
        again.push(r);
        let mut g = fold(&again);
        assert_eq!(g.events, f.events + 1, "one more ledger entry");
        g.events = f.events;
        assert_eq!(g, f);
        for k in 1..es.len() {
            let mut r = es.clone();
            r.rotate_left(k);
            assert_eq!(fold(&r), f, "rotation {k}");
        }
        // Only the resumption seen (its pause lost): still one pause, its time counted.
        let lone = vec![es[0].clone(), resumed(10, Stage::Handling, 600, 600)];
        let f = fold(&lone);
        assert_eq!((f.pauses, f.paused_secs, f.paused_now), (1, 600, false));
    }

    #[test]
    fn a_pause_not_resumed_is_paused_now_until_the_case_closes() {
        let mut es = path();
        let closed = es.pop().expect("closing");
        es.push(paused(43, Stage::Handling, 0));
        let f = fold(&es);
        assert_eq!((f.pauses, f.paused_secs, f.paused_now), (1, 0, true));
        // Resumed: no longer paused; paused again: paused now.
        es.push(resumed(44, Stage::Handling, 60, 60));
        assert!(!fold(&es).paused_now);
        es.push(paused(45, Stage::Handling, 60));
        let f = fold(&es);
        assert_eq!((f.pauses, f.paused_secs, f.paused_now), (2, 60, true));
        let mut rev = es.clone();
        rev.reverse();
        assert_eq!(fold(&rev), f);
        es.push(closed);
        assert!(!fold(&es).paused_now);
    }

    #[test]
    fn a_review_that_keeps_the_outcome_upholds_it() {
        let v = "330122002200";
        let reply = |o: ReplyOutcome| {
            Payload::ReplyIssued(ReplyIssued {
                outcome: o as i32,
                ..Default::default()
            })
        };
        let review_dispatch = Payload::CaseDispatched(CaseDispatched {
            unit_id: "t".into(),
            tier: Tier::Township as i32,
            jurisdiction_code: "330122002".into(),
            review_level: 1,
            ..Default::default()
        });
        let es = vec![
            entry(1, v, dispatch(Tier::Village, v, "v")),
            entry(2, v, reply(ReplyOutcome::NotSupport)),
            entry(3, v, review_dispatch.clone()),
            entry(4, v, reply(ReplyOutcome::NotSupport)),
        ];
        let f = fold(&es);
        assert_eq!((f.reviews_upheld, f.reviews_reversed), (1, 0));
        let es2 = vec![
            entry(1, v, dispatch(Tier::Village, v, "v")),
            entry(2, v, reply(ReplyOutcome::NotSupport)),
            entry(3, v, review_dispatch),
            entry(4, v, reply(ReplyOutcome::Support)),
        ];
        let f = fold(&es2);
        assert_eq!((f.reviews_upheld, f.reviews_reversed), (0, 1));
    }

    #[test]
    fn sanitize_clears_free_text() {
        let env = xf_events::envelope(
            Uuid::now_v7(),
            "routing",
            Tier::Village,
            "330122002200",
            at(0),
            Payload::CaseNotAccepted(xf_events::v1::CaseNotAccepted {
                unit_id: "u".into(),
                reason: "张三的电话13800138000".into(),
                referral_channel: "court".into(),
            }),
        );
        let s = sanitize(&env);
        let bytes = xf_events::encode(&s);
        assert!(!String::from_utf8_lossy(&bytes).contains("13800138000"));
        assert!(String::from_utf8_lossy(&bytes).contains("court"));
    }
}
