//! The checks a payment passes before policy is asked: the invoice itself (BOLT11, against the wallet's
//! network), an L402 token minted for another invoice, route hints that cost more than the fee allowed, the
//! amount the challenge states or the 402 quotes, the challenge's own expiry (again after a
//! person's approval), the request's `Purser-Max-Sats`, and the price the API advertises.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Flow;
use super::context::PayContext;
use crate::challenge::{PaymentChallenge, ProofForm, token_hash};
use crate::invoice::{self, CheckedInvoice, Expectations};
use crate::pricing::PriceModel;
use crate::units::Msats;

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl Flow<'_> {
    /// The BOLT11 checks of `ch`'s invoice, for a wallet on `network`.
    pub(crate) fn check_invoice(
        &self,
        ch: &PaymentChallenge,
        network: Option<&str>,
    ) -> invoice::Result<CheckedInvoice> {
        let want = Expectations {
            payment_hash: ch.payment_hash.as_ref(),
            wallet_network: network,
            now: now(),
            expiry_margin: self.host.settings().invoice_expiry_margin,
        };
        invoice::check(&ch.invoice, &want)
    }

    /// Checks that depend on the challenge and the request rather than on policy: the amount the challenge
    /// states, the challenge's own expiry, and the request's `Purser-Max-Sats`. Returns the reason and its
    /// explanation when the payment must not be made.
    pub(crate) fn request_checks(
        &self,
        ctx: &PayContext<'_>,
        ch: &PaymentChallenge,
        checked: &CheckedInvoice,
    ) -> Result<(), (&'static str, String)> {
        if let ProofForm::Authorization { token, .. } = &ch.proof
            && let Some(named) = token_hash::payment_hash(token)
            && named != checked.payment_hash
        {
            return Err((
                "token_invoice_mismatch",
                format!(
                    "the {} token was minted for payment hash {} but the invoice's is {}: paying it would not make \
                     the token valid",
                    ch.kind.as_str(),
                    named.to_hex(),
                    checked.payment_hash.to_hex()
                ),
            ));
        }
        if let Some(stated) = ch.stated_amount_msat
            && stated != checked.amount.0
        {
            return Err((
                "price_mismatch",
                format!(
                    "the {} challenge states {} but its invoice asks {}",
                    ch.kind.as_str(),
                    Msats(stated),
                    checked.amount
                ),
            ));
        }
        if let Some(quoted) = ch.quoted_msat
            && checked.amount.0 > quoted
        {
            return Err((
                "price_mismatch",
                format!("the 402 quotes {} but its invoice asks {}", Msats(quoted), checked.amount),
            ));
        }
        self.still_payable(ch, checked)?;
        let reserve = crate::policy::fee_reserve(checked.amount);
        if let Some(fee) = checked.route_hint_fee
            && fee > reserve
        {
            return Err((
                "fee_too_high",
                format!(
                    "the invoice's route hints alone charge {fee} to reach the payee, above the {reserve} Purser \
                     allows as the routing fee of a {} payment",
                    checked.amount
                ),
            ));
        }
        if let Some(max) = ctx.max_msat
            && checked.amount.0.saturating_add(reserve.0) > max
        {
            return Err((
                "max_sats_exceeded",
                format!(
                    "the invoice asks {} and its routing fee may take up to {reserve} more, above the {} this \
                     request allows (Purser-Max-Sats)",
                    checked.amount,
                    Msats(max)
                ),
            ));
        }
        Ok(())
    }

    /// Whether the invoice and the challenge can still be paid now (checked again after a person's approval,
    /// which may have taken minutes).
    pub(crate) fn still_payable(
        &self,
        ch: &PaymentChallenge,
        checked: &CheckedInvoice,
    ) -> Result<(), (&'static str, String)> {
        let deadline = (now() + self.host.settings().invoice_expiry_margin).as_secs();
        let margin = self.host.settings().invoice_expiry_margin.as_secs();
        if checked.expires_at_unix <= deadline {
            return Err(("invoice_expired", format!("the invoice expired, or expires within {margin} s")));
        }
        if let Some(expires) = ch.expires_at_unix
            && expires <= deadline
        {
            return Err((
                "challenge_expired",
                format!("the {} challenge expired, or expires within {margin} s", ch.kind.as_str()),
            ));
        }
        Ok(())
    }

    /// What the API says this request costs: the fixed price its pricing documents publish (fetched once,
    /// cached; its discovery document also where the 402's `Link` says), a quote its quote endpoint gives
    /// now for an endpoint priced by formula or dynamically, or, when the documents cannot be read now, the
    /// fixed prices stored when they last could.
    pub(crate) async fn advertised_price(&self, ctx: &PayContext<'_>) -> Option<Advertised> {
        let origin = ctx.target.origin();
        // A 402 may say where the API's discovery document is, when it is not at the usual place.
        if let Some(link) = crate::pricing::discovery::manifest_link(ctx.challenge_headers) {
            self.host.pricing().learn_manifest(&origin, &link);
        }
        let list = self.host.pricing().get(&origin).await;
        if !list.is_empty() {
            let price = list.price_for(ctx.method, ctx.target.path())?;
            if price.model == PriceModel::Fixed {
                return Some(Advertised::Published(Msats(price.price_msat)));
            }
            let now_s = self.host.ledger().now_ms() / 1000;
            return match self.host.pricing().quote(&origin, price, now_s).await {
                Ok(quote) => Some(Advertised::Quoted(quote)),
                Err(e) => {
                    // No quote: a fixed price another document states still holds the invoice to account.
                    tracing::warn!(request_id = ctx.request_id, "no quote for {}: {e}", ctx.target.path());
                    let fixed = list.fixed_price_for(ctx.method, ctx.target.path())?;
                    Some(Advertised::Published(Msats(fixed.price_msat)))
                }
            };
        }
        let stored = self.host.ledger().prices(Some(&origin)).await.ok()?;
        let list =
            crate::pricing::PriceList { prices: stored.into_iter().map(|s| s.price).collect(), ..Default::default() };
        let price = list.fixed_price_for(ctx.method, ctx.target.path())?;
        Some(Advertised::Published(Msats(price.price_msat)))
    }

    /// An invoice above the quote the API gave just now for the endpoint is refused (`price_mismatch`),
    /// whatever `purser.toml` says of price mismatches: a quote asked for this payment is the price. A
    /// published price only raises an alert (see the ledger's price checks).
    pub(crate) fn quote_check(
        &self,
        checked: &CheckedInvoice,
        advertised: Option<Advertised>,
    ) -> Result<(), (&'static str, String)> {
        match advertised {
            Some(Advertised::Quoted(quote)) if checked.amount > quote => Err((
                "price_mismatch",
                format!(
                    "the invoice asks {} msat, above the {} msat the API's quote endpoint quoted for it just now",
                    checked.amount.0, quote.0
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// What the API says a request costs, and how it said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Advertised {
    /// A fixed price in a pricing document.
    Published(Msats),
    /// What its quote endpoint quoted for this request, just now.
    Quoted(Msats),
}

impl Advertised {
    pub(crate) fn msats(self) -> Msats {
        match self {
            Advertised::Published(m) | Advertised::Quoted(m) => m,
        }
    }
}
