//! The L402 "offers" form (l402-protocol/l402, protocol version 0.2.2): a JSON 402 body listing `offers`
//! with a `payment_request_url` and a `payment_context_token`. No invoice comes with it: the client picks an
//! offer and asks the payment request URL for one (`{offer_id, payment_method, payment_context_token}` →
//! `{payment_request: {lightning_invoice}}`), pays it, and requests the resource again; the server knows
//! the payment from its context token.
//!
//! Sources disagree on names, so both are read: `id` or `offer_id`; `one-time` or `one-off`; a
//! `lightning_invoice` or a `payment_request` inside `payment_request`.

use serde_json::Value;

/// A 402 body in the offers form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offers {
    pub payment_request_url: String,
    pub payment_context_token: String,
    pub offers: Vec<Offer>,
}

/// One offer as the body states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    /// In the smallest unit of `currency` (sats for BTC, cents for USD…).
    pub amount: u64,
    /// As written (`BTC`, `SAT`, `USD`…).
    pub currency: String,
    pub kind: OfferKind,
    /// `lightning`, `onchain`, `credit_card`…
    pub payment_methods: Vec<String>,
}

/// What an offer sells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferKind {
    /// One payment for the request (`one-time`, `one-off`, or no type).
    OneTime,
    /// Credit held at the API (`top-up`), `balance` calls or units.
    TopUp,
    /// Access for a period (`subscription`).
    Subscription,
    Other(String),
}

impl Offer {
    /// Whether it can be paid over Lightning.
    pub fn by_lightning(&self) -> bool {
        self.payment_methods.iter().any(|m| m.eq_ignore_ascii_case("lightning"))
    }

    /// Its amount in msat, when it is stated in sats or bitcoin's smallest unit (`BTC`, `XBT`, `SAT`, `SATS`).
    pub fn msat(&self) -> Option<u64> {
        match self.currency.to_ascii_uppercase().as_str() {
            "BTC" | "XBT" | "SAT" | "SATS" => self.amount.checked_mul(1000),
            _ => None,
        }
    }
}

/// Reads `body` as an offers body; `None` when it is not one (no `offers` list, or no URL or token to ask
/// an invoice with).
pub fn read(body: &[u8]) -> Option<Offers> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let list = doc.get("offers")?.as_array()?;
    let offers = list
        .iter()
        .filter_map(|o| {
            let kind = match text(o, "type").as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("one-time" | "one-off" | "onetime") => OfferKind::OneTime,
                Some("top-up" | "topup") => OfferKind::TopUp,
                Some("subscription") => OfferKind::Subscription,
                Some(other) => OfferKind::Other(other.to_string()),
            };
            Some(Offer {
                id: text(o, "id").or_else(|| text(o, "offer_id"))?,
                // Whole units only: a fractional amount is not guessed at.
                amount: o.get("amount")?.as_u64()?,
                currency: text(o, "currency")?,
                kind,
                payment_methods: o
                    .get("payment_methods")
                    .and_then(Value::as_array)
                    .map(|m| m.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default(),
            })
        })
        .collect();
    Some(Offers {
        payment_request_url: text(&doc, "payment_request_url")?,
        payment_context_token: text(&doc, "payment_context_token")?,
        offers,
    })
}

/// The invoice in a payment request URL's answer.
pub fn invoice_of(answer: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(answer).ok()?;
    let request = doc.get("payment_request")?;
    ["lightning_invoice", "payment_request"]
        .iter()
        .find_map(|k| request.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

/// The cheapest one-time offer payable over Lightning and stated in sats, when there is one.
pub fn cheapest(offers: &Offers) -> Option<&Offer> {
    cheapest_of(offers, &OfferKind::OneTime)
}

/// The cheapest top-up offer payable over Lightning and stated in sats, when there is one: credit held at
/// the API, taken only where a person allows top-ups.
pub fn cheapest_top_up(offers: &Offers) -> Option<&Offer> {
    cheapest_of(offers, &OfferKind::TopUp)
}

fn cheapest_of<'a>(offers: &'a Offers, kind: &OfferKind) -> Option<&'a Offer> {
    offers
        .offers
        .iter()
        .filter(|o| o.kind == *kind && o.by_lightning())
        .filter_map(|o| Some((o.msat()?, o)))
        .min_by_key(|(msat, _)| *msat)
        .map(|(_, o)| o)
}

/// A server's text as the ledger and the agent are shown it: at most 40 characters.
pub fn shown(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(40).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Why none of `offers` is paid, for the ledger (the first ten, their words cut short).
pub fn why_none(offers: &Offers) -> String {
    let described: Vec<String> = offers
        .offers
        .iter()
        .take(10)
        .map(|o| {
            let kind = match &o.kind {
                OfferKind::OneTime => "one-time".to_string(),
                OfferKind::TopUp => "top-up".to_string(),
                OfferKind::Subscription => "subscription".to_string(),
                OfferKind::Other(k) => k.clone(),
            };
            let methods: Vec<String> = o.payment_methods.iter().take(5).map(|m| shown(m)).collect();
            format!(
                "{} ({}, {} {}, by {})",
                shown(&o.id),
                shown(&kind),
                o.amount,
                shown(&o.currency),
                methods.join("/")
            )
        })
        .collect();
    format!("no one-time Lightning offer priced in sats among: {}", described.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of l402-protocol/l402's README (version 0.2.2).
    const SPEC: &str = r#"{ "version": "0.2.2",
      "payment_request_url": "https://api.example.com/l402/payment-request",
      "payment_context_token": "pct_abc123xyz",
      "offers": [
        { "id": "offer_12345", "title": "One-time Access", "description": "Access to the resource for a single session",
          "type": "top-up", "balance": 1, "amount": 100, "currency": "USD", "payment_methods": ["lightning", "onchain"] },
        { "id": "offer_67890", "title": "Monthly Subscription", "description": "Unlimited access for 30 days",
          "amount": 1500, "currency": "EUR", "type": "subscription", "duration": "1 month",
          "payment_methods": ["credit_card", "lightning", "onchain"] } ],
      "terms_url": "https://example.com/terms" }"#;

    #[test]
    fn the_specifications_example_has_nothing_purser_pays() {
        let offers = read(SPEC.as_bytes()).unwrap();
        assert_eq!(offers.payment_context_token, "pct_abc123xyz");
        assert_eq!(offers.offers.len(), 2);
        assert_eq!((offers.offers[0].kind.clone(), offers.offers[0].msat()), (OfferKind::TopUp, None));
        assert!(cheapest(&offers).is_none());
        assert!(why_none(&offers).contains("offer_67890 (subscription, 1500 EUR, by credit_card/lightning/onchain)"));
    }

    #[test]
    fn the_cheapest_one_time_lightning_offer_in_sats_is_chosen() {
        let body = r#"{"payment_request_url": "/pay", "payment_context_token": "t", "offers": [
            {"offer_id": "card", "amount": 1, "currency": "SAT", "type": "one-off", "payment_methods": ["credit_card"]},
            {"offer_id": "big", "amount": 50, "currency": "BTC", "type": "one-off", "payment_methods": ["lightning"]},
            {"offer_id": "small", "amount": 8, "currency": "sats", "payment_methods": ["lightning"]},
            {"offer_id": "credit", "amount": 2, "currency": "SAT", "type": "top-up", "payment_methods": ["lightning"]},
            {"offer_id": "half", "amount": 0.5, "currency": "SAT", "payment_methods": ["lightning"]}]}"#;
        let offers = read(body.as_bytes()).unwrap();
        assert_eq!(offers.offers.len(), 4, "a fractional amount is left out");
        let chosen = cheapest(&offers).unwrap();
        assert_eq!((chosen.id.as_str(), chosen.msat()), ("small", Some(8_000)));
        assert_eq!(cheapest_top_up(&offers).map(|o| o.id.as_str()), Some("credit"));
    }

    #[test]
    fn an_invoice_from_either_answer_shape_and_bodies_that_are_not_offers() {
        // As the hosted provider answers (recorded in Fewsats/fewsats-python's notebook).
        let hosted = r#"{"expires_at": "2025-04-07T11:07:49.051614+00:00", "offer_id": "test_offer_2",
            "payment_request": {"lightning_invoice": "lnbc120n1pnl82wn"}, "version": "0.2.2"}"#;
        assert_eq!(invoice_of(hosted.as_bytes()).as_deref(), Some("lnbc120n1pnl82wn"));
        assert_eq!(invoice_of(br#"{"payment_request": {"payment_request": "lnbc1"}}"#).as_deref(), Some("lnbc1"));
        assert_eq!(invoice_of(br#"{"payment_request": {"checkout_url": "https://pay"}}"#), None);
        assert_eq!(read(br#"{"invoice": "lnbc1", "payment_hash": "00"}"#), None);
        assert_eq!(read(br#"{"offers": [], "payment_context_token": "t"}"#), None, "no URL to ask");
    }
}
