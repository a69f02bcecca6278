//! Which price to trust, as pure rules over the answers that came in: the race and its tests share them.
//! A price must be a positive number and, once a rate has been trusted, within ten times of it (a source
//! 100× off is ignored). With a trusted rate to compare against, the first sane answer wins; without one,
//! the first that another source confirms (within 2 %), or, once every source has answered or given up,
//! the median of three or more, else the highest: a higher price turns a limit in money into fewer sats,
//! so a source that cannot be told wrong errs on the side of asking the person.

/// Answers further apart than this (relative to the lower) disagree: an alert is raised.
pub const DISAGREE_RATIO: f64 = 0.02;

/// An answer this many times above or below the last trusted rate is absurd.
pub const ABSURD_FACTOR: f64 = 10.0;

/// Whether `per_btc` can be a price, against the last trusted one when there is one.
pub fn sane(per_btc: f64, reference: Option<f64>) -> Result<(), &'static str> {
    if !per_btc.is_finite() || per_btc <= 0.0 {
        return Err("not a positive price");
    }
    if let Some(r) = reference
        && (per_btc > r * ABSURD_FACTOR || per_btc < r / ABSURD_FACTOR)
    {
        return Err("more than ten times away from the last trusted rate");
    }
    Ok(())
}

/// Whether two prices differ by more than [`DISAGREE_RATIO`].
pub fn disagree(a: f64, b: f64) -> bool {
    (a - b).abs() / a.min(b) > DISAGREE_RATIO
}

/// What to do with the sane answers so far (in arrival order) while `pending` sources may still answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pick {
    /// Trust this one.
    Take(usize),
    /// Wait for more answers.
    Wait,
    /// Nothing can be trusted.
    Nothing,
}

pub fn pick(answers: &[f64], pending: usize, has_reference: bool) -> Pick {
    if answers.is_empty() {
        return if pending == 0 { Pick::Nothing } else { Pick::Wait };
    }
    if has_reference {
        return Pick::Take(0);
    }
    let confirmed =
        (0..answers.len()).find(|&i| (0..answers.len()).any(|j| j != i && !disagree(answers[i], answers[j])));
    if let Some(i) = confirmed {
        return Pick::Take(i);
    }
    if pending > 0 {
        return Pick::Wait;
    }
    let mut order: Vec<usize> = (0..answers.len()).collect();
    order.sort_by(|&a, &b| answers[a].total_cmp(&answers[b]));
    Pick::Take(if order.len() >= 3 { order[order.len() / 2] } else { order[order.len() - 1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_prices_are_not_sane() {
        for bad in [0.0, -97_000.0, f64::NAN, f64::INFINITY] {
            assert!(sane(bad, None).is_err(), "{bad}");
        }
        assert!(sane(97_000.0, None).is_ok());
        // 100× off the last trusted rate, either way.
        assert!(sane(9_700_000.0, Some(97_000.0)).is_err());
        assert!(sane(970.0, Some(97_000.0)).is_err());
        assert!(sane(120_000.0, Some(97_000.0)).is_ok());
    }

    #[test]
    fn with_a_trusted_rate_the_first_sane_answer_wins() {
        assert_eq!(pick(&[97_000.0], 3, true), Pick::Take(0));
        assert_eq!(pick(&[], 3, true), Pick::Wait);
        assert_eq!(pick(&[], 0, true), Pick::Nothing);
    }

    #[test]
    fn without_one_an_answer_needs_a_second_that_agrees() {
        assert_eq!(pick(&[97_000.0], 2, false), Pick::Wait);
        assert_eq!(pick(&[97_000.0, 97_500.0], 1, false), Pick::Take(0));
        // The first is 100× off: the two that agree win.
        assert_eq!(pick(&[9_700_000.0, 97_000.0, 97_100.0], 0, false), Pick::Take(1));
        // Everyone answered and nobody agrees: the median of three, the higher of two, the only one.
        assert_eq!(pick(&[90_000.0, 99_000.0, 95_000.0], 0, false), Pick::Take(2));
        assert_eq!(pick(&[90_000.0, 99_000.0], 0, false), Pick::Take(1));
        assert_eq!(pick(&[90_000.0], 0, false), Pick::Take(0));
    }

    #[test]
    fn two_percent_apart_disagree() {
        assert!(!disagree(100_000.0, 102_000.0));
        assert!(disagree(100_000.0, 102_001.0));
        assert!(disagree(102_001.0, 100_000.0));
    }
}
