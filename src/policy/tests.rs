use super::*;

fn sats(n: u64) -> Msats {
    Msats::from_sats(n)
}

fn budget(id: i64, period: Period, limit: u64, used: u64) -> BudgetUse {
    BudgetUse {
        budget: Budget {
            id,
            scope: Scope::default(),
            period,
            limit: sats(limit),
            limit_fiat: None,
            expires_at_ms: None,
            note: None,
        },
        used: sats(used),
        window_start_ms: Some(0),
        fiat_spent: None,
        used_fiat: None,
    }
}

fn threshold(auto: u64, ask: u64) -> Option<Threshold> {
    Some(Threshold {
        id: 1,
        scope: Scope::default(),
        auto_max: sats(auto),
        ask_max: sats(ask),
        confirm_above: None,
        fiat: None,
    })
}

fn req(amount: u64) -> Request {
    Request {
        agent: "research".into(),
        amount: sats(amount),
        fee_reserve: sats(1),
        approved: Approved::Not,
        price_concern: None,
    }
}

#[test]
fn thresholds_route_to_pay_ask_and_refuse() {
    let s = Snapshot { threshold: threshold(10, 1000), ..Snapshot::default() };
    assert!(matches!(decide(&s, &req(10)), Decision::Allow(_)));
    assert!(matches!(decide(&s, &req(11)), Decision::Ask { confirm: false, .. }));
    assert!(matches!(decide(&s, &req(1000)), Decision::Ask { confirm: false, .. }));
    assert!(matches!(decide(&s, &req(1001)), Decision::Refuse { reason: "over_threshold_denied", .. }));
    assert!(matches!(decide(&s, &Request { approved: Approved::Clicked, ..req(500) }), Decision::Allow(_)));
}

#[test]
fn the_tightest_budget_decides() {
    let s = Snapshot {
        budgets: vec![
            budget(1, Period::Month, 10_000, 100),
            budget(2, Period::Day, 100, 70),
            budget(3, Period::Request, 50, 0),
        ],
        threshold: threshold(1000, 1000),
        ..Snapshot::default()
    };
    // 21 + 1 reserve fits the daily 30 left.
    assert!(matches!(decide(&s, &req(21)), Decision::Allow(t) if t.contains("budget #2")));
    // 30 + 1 does not: the daily budget refuses and says so.
    match decide(&s, &req(30)) {
        Decision::Refuse { reason: "budget_exceeded", explanation, details } => {
            assert!(explanation.contains("daily budget #2"), "{explanation}");
            assert_eq!(details["budget"]["remaining_msat"], 30_000);
        }
        other => panic!("{other:?}"),
    }
    // A per-request budget looks at the amount alone.
    let per_request = Snapshot {
        budgets: vec![budget(3, Period::Request, 50, 0)],
        threshold: threshold(1000, 1000),
        ..Snapshot::default()
    };
    assert!(matches!(decide(&per_request, &req(50)), Decision::Allow(_)));
    assert!(matches!(decide(&per_request, &req(51)), Decision::Refuse { reason: "budget_exceeded", .. }));
}

#[test]
fn a_cap_on_what_is_held_at_an_api_counts_the_deposit_without_its_fee() {
    let held = Snapshot { budgets: vec![budget(4, Period::Held, 15, 10)], ..Snapshot::default() };
    // 5 sats fit what is left, the routing fee is not held at the API.
    assert!(matches!(decide(&held, &req(5)), Decision::Allow(t) if t.contains("budget #4 on what is held")));
    match decide(&held, &req(6)) {
        Decision::Refuse { reason: "budget_exceeded", explanation, details } => {
            assert!(explanation.contains("10 sats held there now, 5 sats left"), "{explanation}");
            assert_eq!(details["budget"]["period"], "held-at-API");
            assert_eq!(details["needed_msat"], 6_000);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pause_and_breaker_come_first() {
    let paused = Snapshot { paused_all: true, threshold: threshold(10, 10), ..Snapshot::default() };
    assert!(matches!(decide(&paused, &req(1)), Decision::Refuse { reason: "payments_paused", .. }));
    let agent = Snapshot { agent_paused: true, ..Snapshot::default() };
    assert!(matches!(decide(&agent, &req(1)), Decision::Refuse { reason: "payments_paused", .. }));
    let trip =
        BreakerTrip { host: "h".into(), path: "/p".into(), reason: "402 after payment".into(), tripped_at_ms: 0 };
    let tripped = Snapshot { breaker: Some(trip), ..Snapshot::default() };
    assert!(matches!(decide(&tripped, &req(1)), Decision::Refuse { reason: "loop_detected", .. }));
}

#[test]
fn a_remembered_rule_pays_what_would_be_asked_up_to_its_daily_limit() {
    let rule = Rule { id: 4, scope: Scope::default(), max_per_day: sats(100), source: "approval".into() };
    let s = Snapshot {
        threshold: threshold(10, 1000),
        rule: Some(RuleUse { rule, used_today: sats(60) }),
        ..Snapshot::default()
    };
    assert!(matches!(decide(&s, &req(40)), Decision::Allow(t) if t.contains("remembered rule #4")));
    assert!(matches!(decide(&s, &req(41)), Decision::Ask { confirm: false, .. }));
}

#[test]
fn amounts_at_the_edge_of_u64_are_refused_not_wrapped() {
    let huge = Request { amount: Msats(u64::MAX - 5), fee_reserve: Msats(u64::MAX / 100), ..req(0) };
    let s = Snapshot {
        budgets: vec![budget(1, Period::Day, 5_000, 4_000)],
        threshold: threshold(u64::MAX / 1000, u64::MAX / 1000),
        ..Snapshot::default()
    };
    assert!(matches!(decide(&s, &huge), Decision::Refuse { reason: "budget_exceeded", .. }));
    assert!(crate::policy::concerns::velocity_crossed(Msats(u64::MAX - 1), Msats(10), Msats(u64::MAX - 1)));
    assert!(crate::policy::concerns::velocity_crossed(Msats(5), Msats(u64::MAX), Msats(10)));
}

#[test]
fn above_the_confirm_limit_a_click_is_not_enough() {
    let mut t = threshold(10, 1000).unwrap();
    t.confirm_above = Some(sats(100));
    let s = Snapshot { threshold: Some(t.clone()), ..Snapshot::default() };
    assert!(matches!(decide(&s, &req(50)), Decision::Ask { confirm: false, .. }));
    assert!(matches!(decide(&s, &req(101)), Decision::Ask { confirm: true, .. }));
    let clicked = Request { approved: Approved::Clicked, ..req(101) };
    assert!(matches!(decide(&s, &clicked), Decision::Ask { confirm: true, .. }));
    let confirmed = Request { approved: Approved::Confirmed, ..req(101) };
    assert!(matches!(decide(&s, &confirmed), Decision::Allow(_)));
    // The ask limit still refuses, confirmed or not.
    let over = Request { approved: Approved::Confirmed, ..req(1001) };
    assert!(matches!(decide(&s, &over), Decision::Refuse { reason: "over_threshold_denied", .. }));
    // A confirm limit below the auto-approve limit takes those amounts out of auto-approval.
    t.confirm_above = Some(sats(5));
    let s = Snapshot { threshold: Some(t), ..Snapshot::default() };
    assert!(matches!(decide(&s, &req(6)), Decision::Ask { confirm: true, .. }));
    assert!(matches!(decide(&s, &req(5)), Decision::Allow(_)));
}

#[test]
fn every_approval_can_need_the_passphrase_and_rules_then_do_not_apply() {
    let rule = RuleUse {
        rule: Rule { id: 3, scope: Scope::default(), max_per_day: sats(1000), source: "test".into() },
        used_today: sats(0),
    };
    let open = Snapshot { threshold: threshold(10, 1000), rule: Some(rule), ..Snapshot::default() };
    assert!(matches!(decide(&open, &req(50)), Decision::Allow(t) if t.contains("rule #3")));
    let strict = Snapshot { confirm_every_approval: true, ..open };
    assert!(matches!(decide(&strict, &req(50)), Decision::Ask { confirm: true, .. }));
    let clicked = Request { approved: Approved::Clicked, ..req(50) };
    assert!(matches!(decide(&strict, &clicked), Decision::Ask { confirm: true, .. }));
    let confirmed = Request { approved: Approved::Confirmed, ..req(50) };
    assert!(matches!(decide(&strict, &confirmed), Decision::Allow(_)));
    // Within the auto-approve limit nothing is asked.
    assert!(matches!(decide(&strict, &req(10)), Decision::Allow(_)));
}

fn task(used: u64, max: u64, confirmed: bool) -> Option<allowance::AllowanceUse> {
    Some(allowance::AllowanceUse {
        id: 3,
        purpose: "summarise 20 papers".into(),
        max: sats(max),
        per_payment_max: None,
        used: sats(used),
        confirmed,
        fiat: None,
    })
}

#[test]
fn an_allowance_takes_the_place_of_asking_and_holds_its_overage() {
    let s = Snapshot { threshold: threshold(10, 1000), allowance: task(200, 250, false), ..Snapshot::default() };
    // Above the auto-approve limit, within the allowance: paid without a question.
    assert!(matches!(decide(&s, &req(40)), Decision::Allow(t) if t.contains("within allowance #3")));
    // Past its maximum: held for the person, as an overage with the task's figures.
    let Decision::Ask { why, confirm: false } = decide(&s, &req(60)) else { panic!() };
    assert!(why.starts_with("overage on allowance #3") && why.contains("50 sats left"), "{why}");
    let clicked = Request { approved: Approved::Clicked, ..req(60) };
    assert!(matches!(decide(&s, &clicked), Decision::Allow(t) if t.contains("beyond allowance #3")));
    // Even an amount the threshold would auto-approve is an overage once the allowance has no room.
    let full = Snapshot { allowance: task(250, 250, false), ..s.clone() };
    assert!(matches!(decide(&full, &req(1)), Decision::Ask { .. }));
}

#[test]
fn an_allowance_never_overrides_a_limit() {
    let s = Snapshot { threshold: threshold(10, 1000), allowance: task(0, 5000, true), ..Snapshot::default() };
    assert!(matches!(decide(&s, &req(1001)), Decision::Refuse { reason: "over_threshold_denied", .. }));
    let paused = Snapshot { paused_all: true, ..s.clone() };
    assert!(matches!(decide(&paused, &req(5)), Decision::Refuse { reason: "payments_paused", .. }));
    let budgeted = Snapshot { budgets: vec![budget(2, Period::Day, 100, 95)], ..s.clone() };
    assert!(matches!(decide(&budgeted, &req(20)), Decision::Refuse { reason: "budget_exceeded", .. }));
    let pricey = Request { price_concern: Some("2× its advertised 10 sats".into()), ..req(20) };
    assert!(matches!(decide(&s, &pricey), Decision::Ask { .. }));
}

#[test]
fn once_every_approval_needs_the_passphrase_only_a_confirmed_allowance_carries_payments() {
    let s = Snapshot {
        threshold: threshold(10, 1000),
        allowance: task(0, 250, false),
        confirm_every_approval: true,
        ..Snapshot::default()
    };
    assert!(matches!(decide(&s, &req(40)), Decision::Ask { confirm: true, .. }));
    let confirmed = Snapshot { allowance: task(0, 250, true), ..s };
    assert!(matches!(decide(&confirmed, &req(40)), Decision::Allow(_)));
    assert!(is_overage(&decide(&Snapshot { allowance: task(240, 250, true), ..confirmed.clone() }, &req(40))));
    let pricey = Request { price_concern: Some("2× its advertised 10 sats".into()), ..req(40) };
    assert!(!is_overage(&decide(&Snapshot { allowance: task(240, 250, true), ..confirmed }, &pricey)));
}

#[test]
fn only_a_confirmed_allowance_covers_the_confirm_tier() {
    let mut t = threshold(10, 1000).unwrap();
    t.confirm_above = Some(sats(100));
    let clicked = Snapshot { threshold: Some(t), allowance: task(0, 500, false), ..Snapshot::default() };
    assert!(matches!(decide(&clicked, &req(200)), Decision::Ask { confirm: true, .. }));
    let confirmed = Snapshot { allowance: task(0, 500, true), ..clicked.clone() };
    assert!(matches!(decide(&confirmed, &req(200)), Decision::Allow(_)));
    // An overage in the confirm tier still needs the passphrase.
    let spent = Snapshot { allowance: task(450, 500, true), ..clicked };
    assert!(matches!(decide(&spent, &req(200)), Decision::Ask { confirm: true, .. }));
}

fn dollar_threshold(auto_micros: i64, ask_micros: i64) -> Option<Threshold> {
    Some(Threshold {
        fiat: Some(fiat::FiatThreshold {
            currency: "USD".into(),
            auto_max_micros: auto_micros,
            ask_max_micros: ask_micros,
            confirm_above_micros: None,
        }),
        ..threshold(0, 0).unwrap()
    })
}

fn at_hand(per_btc: Option<f64>) -> crate::rates::RatesAtHand {
    match per_btc {
        Some(per_btc) => crate::rates::RatesAtHand {
            rates: vec![crate::rates::Rate { currency: "USD".into(), per_btc, source: "feed".into(), at_ms: 0 }],
            missing: vec![],
        },
        None => crate::rates::RatesAtHand { rates: vec![], missing: vec![("USD".into(), "the feed is down".into())] },
    }
}

#[test]
fn a_dollar_threshold_routes_at_the_rate_and_names_it() {
    // $0.05 at once, $1 asked, at 1 BTC = $100,000: 50 sats paid, 51 asked, 1,001 refused.
    let s = fiat::price(
        Snapshot { threshold: dollar_threshold(50_000, 1_000_000), ..Snapshot::default() },
        &at_hand(Some(100_000.0)),
        3_000,
    );
    match decide(&s, &req(50)) {
        Decision::Allow(why) => {
            assert!(why.contains("auto-approve limit of $0.05 (50 sats)"), "{why}");
            assert!(why.ends_with("at 1 BTC = $100,000.00 (feed, 3 s old)"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(decide(&s, &req(51)), Decision::Ask { confirm: false, .. }));
    assert!(matches!(decide(&s, &req(1_001)), Decision::Refuse { reason: "over_threshold_denied", .. }));
}

#[test]
fn without_a_rate_a_dollar_limit_goes_to_a_person_and_a_sat_budget_still_refuses() {
    let s = fiat::price(
        Snapshot { threshold: dollar_threshold(50_000, 1_000_000), ..Snapshot::default() },
        &at_hand(None),
        0,
    );
    match decide(&s, &req(1)) {
        Decision::Ask { why, confirm: false } => {
            assert!(why.starts_with("rate_unavailable: the threshold"), "{why}");
            assert!(why.contains("the feed is down"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(decide(&s, &Request { approved: Approved::Clicked, ..req(1) }), Decision::Allow(_)));
    // A budget in sats needs no rate, and still refuses first.
    let s = Snapshot { budgets: vec![budget(1, Period::Day, 10, 0)], ..s };
    assert!(matches!(decide(&s, &req(20)), Decision::Refuse { reason: "budget_exceeded", .. }));
}

#[test]
fn a_missing_rate_never_lifts_the_ask_limit_or_the_confirm_tier() {
    // The threshold is in sats (ask up to 1,000, passphrase above 500); a budget in dollars has no rate.
    let t = Threshold { confirm_above: Some(sats(500)), ..threshold(10, 1_000).unwrap() };
    let s =
        Snapshot { threshold: Some(t), unpriced: vec!["daily budget #1 ($1.00): down".into()], ..Snapshot::default() };
    assert!(matches!(decide(&s, &req(50_000)), Decision::Refuse { reason: "over_threshold_denied", .. }));
    assert!(matches!(decide(&s, &req(600)), Decision::Ask { confirm: true, .. }));
    assert!(matches!(
        decide(&s, &Request { approved: Approved::Clicked, ..req(600) }),
        Decision::Ask { confirm: true, .. }
    ));
    assert!(matches!(decide(&s, &Request { approved: Approved::Confirmed, ..req(600) }), Decision::Allow(_)));
    assert!(matches!(decide(&s, &Request { approved: Approved::Clicked, ..req(100) }), Decision::Allow(_)));
}
