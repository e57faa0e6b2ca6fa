//! Unit assessment (考核): per unit and period, the rates and counts of how it handled
//! its cases, one weighted score and a ranking within the unit's tier.

use serde::Serialize;

/// What is counted for a unit over a period (cases it led, by registration date).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Cases the unit led.
    pub cases: i64,
    /// Of those, decided (accepted or not) with no acceptance breach.
    pub accepted_on_time: i64,
    /// Decided at all.
    pub decided: i64,
    /// Closed with no handling, review or re-review breach.
    pub concluded_on_time: i64,
    pub closed: i64,
    pub overdue: i64,
    pub extensions: i64,
    /// Repeat petitions and skip-level filings that followed this unit's handling.
    pub repeat_after: i64,
    pub skip_level_after: i64,
    pub reviews_upheld: i64,
    pub reviews_reversed: i64,
    pub follow_ups: i64,
    pub follow_ups_reached: i64,
    /// Rated 4–5 (SatisfactionRecorded) plus follow-ups that said satisfied.
    pub satisfied: i64,
    /// Rated at all plus follow-ups that reached the petitioner.
    pub rated: i64,
}

/// The rates of a unit: `None` when nothing was there to rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    pub on_time_acceptance_rate: Option<f64>,
    pub on_time_conclusion_rate: Option<f64>,
    pub review_reversal_rate: Option<f64>,
    pub follow_up_reach_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
}

fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| round(n as f64 / d as f64))
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

pub fn rates(c: &Counts) -> Rates {
    Rates {
        on_time_acceptance_rate: rate(c.accepted_on_time, c.decided),
        on_time_conclusion_rate: rate(c.concluded_on_time, c.closed),
        review_reversal_rate: rate(c.reviews_reversed, c.reviews_upheld + c.reviews_reversed),
        follow_up_reach_rate: rate(c.follow_ups_reached, c.follow_ups),
        satisfaction_rate: rate(c.satisfied, c.rated),
    }
}

/// Weights of the rates (they add up to 100).
pub const WEIGHTS: [(&str, f64); 5] = [
    ("on_time_acceptance_rate", 25.0),
    ("on_time_conclusion_rate", 25.0),
    ("review_reversal_rate", 15.0),
    ("follow_up_reach_rate", 10.0),
    ("satisfaction_rate", 25.0),
];

/// Points taken off per counted event.
pub const PENALTIES: [(&str, f64); 4] = [
    ("overdue", 2.0),
    ("extensions", 1.0),
    ("repeat_after", 3.0),
    ("skip_level_after", 5.0),
];

/// The score, 0–100: the weighted rates (the reversal rate counts as 1 − rate), the
/// weights of rates with nothing to rate spread over the others, less the penalties,
/// never below 0. A unit with nothing to rate scores 100 less its penalties.
pub fn score(c: &Counts) -> f64 {
    let r = rates(c);
    let parts = [
        r.on_time_acceptance_rate,
        r.on_time_conclusion_rate,
        r.review_reversal_rate.map(|x| 1.0 - x),
        r.follow_up_reach_rate,
        r.satisfaction_rate,
    ];
    let (mut got, mut weight) = (0.0, 0.0);
    for (p, (_, w)) in parts.iter().zip(WEIGHTS) {
        if let Some(p) = p {
            got += p * w;
            weight += w;
        }
    }
    let base = if weight > 0.0 {
        got * 100.0 / weight
    } else {
        100.0
    };
    let penalty = PENALTIES[0].1 * c.overdue as f64
        + PENALTIES[1].1 * c.extensions as f64
        + PENALTIES[2].1 * c.repeat_after as f64
        + PENALTIES[3].1 * c.skip_level_after as f64;
    round((base - penalty).max(0.0) * 100.0) / 100.0
}

/// Ranks (1 = best) by score, highest first; ties share a rank.
pub fn ranks(scores: &[f64]) -> Vec<usize> {
    scores
        .iter()
        .map(|s| 1 + scores.iter().filter(|o| *o > s).count())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_unit_scores_100_and_penalties_take_points() {
        let c = Counts {
            cases: 4,
            accepted_on_time: 4,
            decided: 4,
            concluded_on_time: 2,
            closed: 2,
            ..Counts::default()
        };
        assert_eq!(score(&c), 100.0);
        let late = Counts {
            concluded_on_time: 1,
            overdue: 1,
            repeat_after: 1,
            ..c.clone()
        };
        // 25 + 12.5 over 50 → 75, less 2 and 3.
        assert_eq!(score(&late), 70.0);
        assert_eq!(score(&Counts::default()), 100.0);
    }

    #[test]
    fn ties_share_a_rank() {
        assert_eq!(ranks(&[90.0, 70.0, 90.0, 50.0]), [1, 3, 1, 4]);
    }
}
