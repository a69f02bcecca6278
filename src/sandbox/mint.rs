//! The sandbox's Lightning node: it signs real BOLT11 invoices with its own key and keeps each preimage
//! until the sandbox wallet settles the invoice. The demo API and test servers mint here; the sandbox wallet
//! pays here; nothing leaves the process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bitcoin::hashes::{Hash, sha256};
use bitcoin::secp256k1::{Secp256k1, SecretKey};
use lightning_invoice::{
    Currency, InvoiceBuilder, PaymentSecret, RawTaggedField, RouteHint, RouteHintHop, RoutingFees, TaggedField,
};
use rand::RngCore;

use crate::units::{Msats, PaymentHash, Preimage};

/// What to mint.
#[derive(Debug, Clone)]
pub struct InvoiceSpec {
    /// `None` mints an amountless invoice (which Purser must refuse).
    pub amount_msat: Option<u64>,
    pub description: String,
    pub expiry: Duration,
    /// The network to mint on, when it differs from the node's own (for wrong-network tests).
    pub currency: Option<Currency>,
    /// What the invoice's feature field (`9`) says.
    pub features: FeatureField,
    /// A private route of one hop charging these fees, as a payee behind a private channel writes.
    pub route_hint: Option<RoutingFees>,
}

/// The feature field a minted invoice carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FeatureField {
    /// `var_onion_optin` and `payment_secret`, both required, as most nodes write it.
    #[default]
    Usual,
    /// No feature field at all, as LNbits mints invoices (its payment secret is still there).
    Absent,
    /// The usual bits and these (even: required, odd: optional), for tests of unknown features.
    With(Vec<usize>),
}

impl InvoiceSpec {
    pub fn sats(sats: u64, description: &str) -> Self {
        InvoiceSpec {
            amount_msat: Some(sats * 1000),
            description: description.to_string(),
            expiry: Duration::from_secs(600),
            currency: None,
            features: FeatureField::Usual,
            route_hint: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MintedInvoice {
    pub bolt11: String,
    pub payment_hash: PaymentHash,
}

#[derive(Debug, Clone)]
struct Open {
    preimage: Preimage,
    amount: Option<Msats>,
    settled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    #[error("no route: the sandbox node did not issue this invoice")]
    UnknownInvoice,
    #[error("the invoice is already paid")]
    AlreadyPaid,
    #[error("the invoice asks another amount")]
    WrongAmount,
}

pub struct Mint {
    currency: Currency,
    node_key: SecretKey,
    invoices: Mutex<HashMap<PaymentHash, Open>>,
}

impl Mint {
    pub fn new(currency: Currency) -> Self {
        let mut bytes = [0u8; 32];
        loop {
            rand::thread_rng().fill_bytes(&mut bytes);
            if let Ok(node_key) = SecretKey::from_slice(&bytes) {
                return Mint { currency, node_key, invoices: Mutex::new(HashMap::new()) };
            }
        }
    }

    pub fn mint(&self, spec: InvoiceSpec) -> MintedInvoice {
        let mut pre = [0u8; 32];
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut pre);
        rand::thread_rng().fill_bytes(&mut secret);
        let preimage = Preimage(pre);
        let payment_hash = preimage.payment_hash();
        let mut builder = InvoiceBuilder::new(spec.currency.unwrap_or_else(|| self.currency.clone()))
            .description(spec.description)
            .payment_hash(sha256::Hash::from_byte_array(payment_hash.0))
            .payment_secret(PaymentSecret(secret))
            .current_timestamp()
            .min_final_cltv_expiry_delta(144)
            .expiry_time(spec.expiry);
        if let Some(msat) = spec.amount_msat {
            builder = builder.amount_milli_satoshis(msat);
        }
        if let Some(fees) = spec.route_hint {
            let hop = RouteHintHop {
                src_node_id: self.node_key.public_key(&Secp256k1::new()),
                short_channel_id: 0x0001_0000_0100_0001,
                fees,
                cltv_expiry_delta: 40,
                htlc_minimum_msat: None,
                htlc_maximum_msat: None,
            };
            builder = builder.private_route(RouteHint(vec![hop]));
        }
        let mut raw = builder.build_raw().expect("every required invoice field is set above");
        let fields = &mut raw.data.tagged_fields;
        for field in fields.iter_mut() {
            if let (RawTaggedField::KnownSemantics(TaggedField::Features(f)), FeatureField::With(bits)) =
                (field, &spec.features)
            {
                for bit in bits {
                    let set =
                        if bit % 2 == 0 { f.set_required_feature_bit(*bit) } else { f.set_optional_feature_bit(*bit) };
                    set.expect("feature bits below 256");
                }
            }
        }
        if spec.features == FeatureField::Absent {
            fields.retain(|f| !matches!(f, RawTaggedField::KnownSemantics(TaggedField::Features(_))));
        }
        let secp = Secp256k1::new();
        let invoice = raw
            .sign(|hash| Ok::<_, std::convert::Infallible>(secp.sign_ecdsa_recoverable(hash, &self.node_key)))
            .unwrap_or_else(|never| match never {});
        self.invoices
            .lock()
            .unwrap()
            .insert(payment_hash, Open { preimage, amount: spec.amount_msat.map(Msats), settled: false });
        MintedInvoice { bolt11: invoice.to_string(), payment_hash }
    }

    /// Settles an invoice this node issued, handing back its preimage.
    pub fn settle(&self, hash: &PaymentHash) -> Result<Preimage, SettleError> {
        let mut invoices = self.invoices.lock().unwrap();
        let open = invoices.get_mut(hash).ok_or(SettleError::UnknownInvoice)?;
        if open.settled {
            return Err(SettleError::AlreadyPaid);
        }
        open.settled = true;
        Ok(open.preimage.clone())
    }

    /// Pays `amount` into an invoice this node issued (amountless ones take any amount; others only their
    /// own), as an API paying back a refund would.
    pub fn settle_paying(&self, hash: &PaymentHash, amount: Msats) -> Result<(), SettleError> {
        let mut invoices = self.invoices.lock().unwrap();
        let open = invoices.get_mut(hash).ok_or(SettleError::UnknownInvoice)?;
        if open.settled {
            return Err(SettleError::AlreadyPaid);
        }
        if open.amount.is_some_and(|a| a != amount) {
            return Err(SettleError::WrongAmount);
        }
        open.settled = true;
        open.amount = Some(amount);
        Ok(())
    }

    pub fn is_settled(&self, hash: &PaymentHash) -> bool {
        self.invoices.lock().unwrap().get(hash).is_some_and(|o| o.settled)
    }

    pub fn amount(&self, hash: &PaymentHash) -> Option<Msats> {
        self.invoices.lock().unwrap().get(hash).and_then(|o| o.amount)
    }

    /// The preimage of a settled invoice (what `lookup_invoice` reports).
    pub fn settled_preimage(&self, hash: &PaymentHash) -> Option<Preimage> {
        let invoices = self.invoices.lock().unwrap();
        invoices.get(hash).filter(|o| o.settled).map(|o| o.preimage.clone())
    }
}
