//! The L402 "offers" form (l402-protocol/l402, protocol version 0.2.2): a JSON 402 body listing `offers`
//! with a `payment_request_url` and a `payment_context_token`. No invoice comes with it: the client picks an
//! offer and asks the payment request URL for one (`{offer_id, payment_method, payment_context_token}` →
//! `{payment_request: {lightning_invoice}}`), pays it, and requests the resource again; the server knows
//! the payment from its context token.
//!
//! Sources disagree on names, so both are read: `id` or `offer_id`; `one-time` or `one-off`; a
//! `lightning_invoice` or a `payment_request` inside `payment_request`.

use serde_json::Value;

use crate::rates::Money;

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

    /// Its price in a currency (the amount is in the currency's smallest unit: cents for USD), when it is
    /// stated in one rather than in sats.
    pub fn money(&self) -> Option<Money> {
        if self.msat().is_some() {
            return None;
        }
        let currency = crate::rates::money::currency_code(&self.currency).ok()?;
        let per_minor = 10i64.pow(6 - minor_digits(&currency));
        let micros = i64::try_from(self.amount).ok()?.checked_mul(per_minor)?;
        Some(Money { currency, micros })
    }
}

/// How many decimals a currency's smallest unit has (ISO 4217): 2 for most, 0 or 3 for a few.
fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "VND" | "VUV"
        | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
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

/// The currencies (other than sats) that Lightning offers of `offers` are priced in: to convert before
/// choosing.
pub fn currencies(offers: &Offers) -> Vec<String> {
    let mut out: Vec<String> =
        offers.offers.iter().filter(|o| o.by_lightning()).filter_map(|o| Some(o.money()?.currency)).collect();
    out.sort();
    out.dedup();
    out
}

/// The cheapest one-time offer payable over Lightning that `price` can price in msat, with that price.
pub fn cheapest(offers: &Offers, price: impl Fn(&Offer) -> Option<u64>) -> Option<(&Offer, u64)> {
    cheapest_of(offers, &OfferKind::OneTime, price)
}

/// The cheapest top-up offer payable over Lightning that `price` can price, when there is one: credit held
/// at the API, taken only where a person allows top-ups.
pub fn cheapest_top_up(offers: &Offers, price: impl Fn(&Offer) -> Option<u64>) -> Option<(&Offer, u64)> {
    cheapest_of(offers, &OfferKind::TopUp, price)
}

fn cheapest_of<'a>(
    offers: &'a Offers,
    kind: &OfferKind,
    price: impl Fn(&Offer) -> Option<u64>,
) -> Option<(&'a Offer, u64)> {
    offers
        .offers
        .iter()
        .filter(|o| o.kind == *kind && o.by_lightning())
        // Nothing is had for nothing: an offer priced at 0 is no offer.
        .filter_map(|o| Some((o, price(o).filter(|msat| *msat > 0)?)))
        .min_by_key(|(_, msat)| *msat)
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
    format!("no one-time Lightning offer Purser can price among: {}", described.join("; "))
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
        // 100 cents, 1500 euro cents: no one-time Lightning offer even once priced.
        assert_eq!(offers.offers[0].money(), Some(Money { currency: "USD".into(), micros: 1_000_000 }));
        assert_eq!(currencies(&offers), ["EUR", "USD"]);
        assert!(cheapest(&offers, Offer::msat).is_none());
        assert!(cheapest_top_up(&offers, Offer::msat).is_none(), "not in sats, and no rate given");
        let top_up = cheapest_top_up(&offers, |o| Some(o.money()?.micros as u64 / 100));
        assert_eq!(top_up.map(|(o, msat)| (o.id.as_str(), msat)), Some(("offer_12345", 10_000)));
        assert!(why_none(&offers).contains("offer_67890 (subscription, 1500 EUR, by credit_card/lightning/onchain)"));
        let yen = Offer { currency: "jpy".into(), ..offers.offers[0].clone() };
        assert_eq!(yen.money(), Some(Money { currency: "JPY".into(), micros: 100_000_000 }), "no minor unit");
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
        let (chosen, msat) = cheapest(&offers, Offer::msat).unwrap();
        assert_eq!((chosen.id.as_str(), msat), ("small", 8_000));
        assert_eq!(cheapest_top_up(&offers, Offer::msat).map(|(o, _)| o.id.as_str()), Some("credit"));
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
