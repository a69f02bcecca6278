//! The sandbox wallet: a NIP-47 wallet service with a play balance, speaking real NIP-47 over a Nostr relay.
//! It settles invoices that the sandbox [`Mint`] issued. Its info event offers NIP-44 v2 and NIP-04 by
//! default; tests can make it offer only one, lie about preimages, or never answer payments.
//!
//! With a state file (as `purser sandbox` gives it), its balance and its record of payments are written
//! before each payment is answered and read again at start, so the record outlives a killed sandbox and the
//! ledger can be checked against it (and resolved by `lookup_invoice`) after a restart.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lightning_invoice::Bolt11Invoice;
use nostr_sdk::nips::nip47::{
    ErrorCode, GetBalanceResponse, GetInfoResponse, LookupInvoiceResponse, MakeInvoiceResponse, Method, NIP47Error,
    NostrWalletConnectURI, PayInvoiceResponse, Request, RequestParams, Response, ResponseResult, TransactionState,
    TransactionType,
};
use nostr_sdk::nips::{nip04, nip44};
use nostr_sdk::prelude::*;

use super::mint::{InvoiceSpec, Mint, SettleError};
pub use super::wallet_state::{SANDBOX_WALLET_FILE, SavedPayment, saved_payments};
use super::wallet_state::{Sent, State, load, save};
use crate::units::{Msats, PaymentHash};

/// How the sandbox wallet behaves.
#[derive(Debug, Clone)]
pub struct WalletServiceOptions {
    /// The play balance it starts with.
    pub balance: Msats,
    /// The encryptions its info event offers; empty means no `encryption` tag (clients then use NIP-04).
    pub encryption: Vec<&'static str>,
    /// Routing fee it charges, in parts per million of the amount.
    pub fee_ppm: u64,
    /// Answer payments with a preimage that does not match (a broken or lying wallet).
    pub bad_preimage: bool,
    /// Never answer `pay_invoice` (a wallet that hangs after taking the request).
    pub ignore_payments: bool,
    /// Pay, but never answer `pay_invoice` (the answer lost on the way): `lookup_invoice` then tells.
    pub pay_silently: bool,
    /// Answer `lookup_invoice` with `NOT_IMPLEMENTED`, as some wallets do (`list_transactions` still works).
    pub no_lookup: bool,
    /// Refuse invoices that `lightning-invoice`'s full semantic check refuses (no feature field, for one), as
    /// a wallet built on it would: Purser's checks pass them, the wallet's word is the last.
    pub strict_invoices: bool,
    /// The network `get_info` reports.
    pub network: &'static str,
    /// Where the balance and the payments made are kept between runs; `None` keeps them in memory only.
    pub state_file: Option<std::path::PathBuf>,
    /// How long each `pay_invoice` takes before it is answered, as a payment over the Lightning network
    /// would; payments asked together wait together.
    pub pay_delay: Duration,
}

impl Default for WalletServiceOptions {
    fn default() -> Self {
        WalletServiceOptions {
            balance: Msats::from_sats(100_000),
            encryption: vec!["nip44_v2", "nip04"],
            fee_ppm: 1_000,
            bad_preimage: false,
            ignore_payments: false,
            pay_silently: false,
            no_lookup: false,
            strict_invoices: false,
            network: "regtest",
            state_file: None,
            pay_delay: Duration::ZERO,
        }
    }
}

/// A running sandbox wallet service.
pub struct SandboxWallet {
    /// The connection string a client uses (`nostr+walletconnect://…`).
    pub uri: String,
    state: Arc<Mutex<State>>,
    client: Client,
}

impl SandboxWallet {
    /// Every payment this wallet made: payment hash and amount (its own record, to check a ledger against).
    pub fn payments(&self) -> Vec<(PaymentHash, Msats)> {
        self.state.lock().unwrap().sent.iter().map(|(h, s)| (*h, s.amount)).collect()
    }

    pub fn balance(&self) -> Msats {
        self.state.lock().unwrap().balance
    }

    /// How many `pay_invoice` requests reached the wallet.
    pub fn pay_requests(&self) -> u64 {
        self.state.lock().unwrap().pay_requests
    }

    pub async fn stop(&self) {
        self.client.shutdown().await;
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the sandbox wallet could not start: {0}")]
pub struct StartError(String);

/// Starts a wallet service on the relay at `relay_url`; it is subscribed when this returns.
pub async fn start(
    relay_url: &RelayUrl,
    mint: Arc<Mint>,
    opts: WalletServiceOptions,
) -> Result<SandboxWallet, StartError> {
    let err = |e: &dyn std::fmt::Display| StartError(e.to_string());
    let wallet_keys = Keys::generate();
    let app_keys = Keys::generate();
    let uri = NostrWalletConnectURI::new(
        wallet_keys.public_key(),
        vec![relay_url.clone()],
        app_keys.secret_key().clone(),
        None,
    );
    let client = Client::new(wallet_keys.clone());
    client.add_relay(relay_url.clone()).await.map_err(|e| err(&e))?;
    client.try_connect(Duration::from_secs(5)).await;
    let mut info = EventBuilder::new(
        Kind::WalletConnectInfo,
        "get_info get_balance pay_invoice lookup_invoice list_transactions make_invoice",
    );
    if !opts.encryption.is_empty() {
        info = info.tag(Tag::custom(TagKind::custom("encryption"), [opts.encryption.join(" ")]));
    }
    client.send_event_builder(info).await.map_err(|e| err(&e))?;
    let requests = Filter::new()
        .kind(Kind::WalletConnectRequest)
        .pubkey(wallet_keys.public_key())
        .since(Timestamp::now() - Duration::from_secs(5));
    let mut notifications = client.notifications();
    client.subscribe(requests, None).await.map_err(|e| err(&e))?;
    let (balance, sent) = match &opts.state_file {
        Some(file) => load(file, opts.balance),
        None => (opts.balance, HashMap::new()),
    };
    let state = Arc::new(Mutex::new(State { balance, sent, pay_requests: 0, made: HashMap::new() }));
    let service = Service { keys: wallet_keys, app: app_keys.public_key(), mint, opts, state: state.clone() };
    let replier = client.clone();
    tokio::spawn(async move {
        while let Ok(n) = notifications.recv().await {
            if let RelayPoolNotification::Event { event, .. } = n {
                if event.kind != Kind::WalletConnectRequest {
                    continue;
                }
                let Some((reply, method)) = service.answer(&event) else { continue };
                let delay = service.opts.pay_delay;
                if delay.is_zero() || method != Method::PayInvoice {
                    let _ = replier.send_event(&reply).await;
                    continue;
                }
                let replier = replier.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = replier.send_event(&reply).await;
                });
            }
        }
    });
    Ok(SandboxWallet { uri: uri.to_string(), state, client })
}

struct Service {
    keys: Keys,
    /// The only app key this wallet answers (the one in its connection string).
    app: PublicKey,
    mint: Arc<Mint>,
    opts: WalletServiceOptions,
    state: Arc<Mutex<State>>,
}

fn failure(method: Method, code: ErrorCode, message: &str) -> Response {
    Response { result_type: method, error: Some(NIP47Error { code, message: message.to_string() }), result: None }
}

/// A payment as `lookup_invoice` and `list_transactions` describe it.
fn described(hash: &PaymentHash, s: &Sent) -> LookupInvoiceResponse {
    LookupInvoiceResponse {
        transaction_type: Some(TransactionType::Outgoing),
        state: Some(TransactionState::Settled),
        invoice: Some(s.invoice.clone()),
        description: None,
        description_hash: None,
        preimage: Some(s.preimage.clone()),
        payment_hash: hash.to_hex(),
        amount: s.amount.0,
        fees_paid: s.fee.0,
        created_at: s.at,
        expires_at: None,
        settled_at: Some(s.at),
        metadata: None,
    }
}

fn ok(method: Method, result: ResponseResult) -> Response {
    Response { result_type: method, error: None, result: Some(result) }
}

impl Service {
    /// The signed reply to a request event, and the method it answers.
    fn answer(&self, event: &Event) -> Option<(Event, Method)> {
        let nip44 = event
            .tags
            .iter()
            .any(|t| t.kind() == TagKind::custom("encryption") && t.content().is_some_and(|c| c.contains("nip44_v2")));
        let secret = self.keys.secret_key();
        let plain = if nip44 {
            nip44::decrypt(secret, &event.pubkey, &event.content).ok()?
        } else {
            nip04::decrypt(secret, &event.pubkey, &event.content).ok()?
        };
        let request = Request::from_json(&plain).ok()?;
        let response = if event.pubkey != self.app {
            failure(request.method, ErrorCode::Unauthorized, "unknown connection")
        } else {
            self.handle(&request)?
        };
        let json = response.as_json();
        let content = if nip44 {
            nip44::encrypt(secret, &event.pubkey, json, nip44::Version::V2).ok()?
        } else {
            nip04::encrypt(secret, &event.pubkey, json).ok()?
        };
        EventBuilder::new(Kind::WalletConnectResponse, content)
            .tag(Tag::event(event.id))
            .tag(Tag::public_key(event.pubkey))
            .sign_with_keys(&self.keys)
            .ok()
            .map(|reply| (reply, request.method))
    }

    /// `None` means "do not answer at all".
    fn handle(&self, request: &Request) -> Option<Response> {
        let method = request.method;
        Some(match &request.params {
            RequestParams::GetInfo => ok(
                method,
                ResponseResult::GetInfo(GetInfoResponse {
                    alias: Some("Purser sandbox wallet (play sats)".into()),
                    color: None,
                    pubkey: Some(self.keys.public_key().to_hex()),
                    network: Some(self.opts.network.into()),
                    block_height: None,
                    block_hash: None,
                    methods: vec![
                        Method::GetInfo,
                        Method::GetBalance,
                        Method::PayInvoice,
                        Method::LookupInvoice,
                        Method::ListTransactions,
                        Method::MakeInvoice,
                    ],
                    notifications: vec![],
                }),
            ),
            RequestParams::GetBalance => {
                let balance = self.state.lock().unwrap().balance.0;
                ok(method, ResponseResult::GetBalance(GetBalanceResponse { balance }))
            }
            RequestParams::PayInvoice(p) => {
                self.state.lock().unwrap().pay_requests += 1;
                if self.opts.ignore_payments {
                    return None;
                }
                let answer = self.pay(method, &p.invoice);
                if self.opts.pay_silently {
                    return None;
                }
                answer
            }
            RequestParams::LookupInvoice(_) if self.opts.no_lookup => {
                failure(method, ErrorCode::NotImplemented, "this wallet does not look invoices up")
            }
            RequestParams::LookupInvoice(p) => {
                let hash = p.payment_hash.as_deref().and_then(PaymentHash::from_hex);
                let state = self.state.lock().unwrap();
                if let Some(incoming) = hash.and_then(|h| self.incoming(&state, &h)) {
                    return Some(ok(method, ResponseResult::LookupInvoice(incoming)));
                }
                match hash.and_then(|h| state.sent.get(&h).map(|s| (h, s.clone()))) {
                    Some((h, s)) => ok(method, ResponseResult::LookupInvoice(described(&h, &s))),
                    None => failure(method, ErrorCode::NotFound, "no such payment"),
                }
            }
            RequestParams::MakeInvoice(p) => {
                let mut spec = InvoiceSpec::sats(0, p.description.as_deref().unwrap_or_default());
                spec.amount_msat = (p.amount > 0).then_some(p.amount);
                spec.expiry = Duration::from_secs(p.expiry.unwrap_or(86_400));
                let made = self.mint.mint(spec);
                let now = Timestamp::now();
                self.state.lock().unwrap().made.insert(made.payment_hash, (made.bolt11.clone(), now));
                let made = MakeInvoiceResponse {
                    invoice: made.bolt11,
                    payment_hash: Some(made.payment_hash.to_hex()),
                    description: p.description.clone(),
                    description_hash: None,
                    preimage: None,
                    amount: Some(p.amount),
                    created_at: Some(now),
                    expires_at: None,
                };
                ok(method, ResponseResult::MakeInvoice(made))
            }
            RequestParams::ListTransactions(p) => {
                let from = p.from.map_or(0, |t| t.as_secs());
                let state = self.state.lock().unwrap();
                let list = state.sent.iter().filter(|(_, s)| s.at.as_secs() >= from).map(|(h, s)| described(h, s));
                ok(method, ResponseResult::ListTransactions(list.collect()))
            }
            _ => failure(method, ErrorCode::NotImplemented, "the sandbox wallet does not do that"),
        })
    }

    /// An invoice this wallet made, as `lookup_invoice` describes it: settled once the mint says it was paid
    /// (its amount then what the payer paid).
    fn incoming(&self, state: &State, hash: &PaymentHash) -> Option<LookupInvoiceResponse> {
        let (invoice, made_at) = state.made.get(hash)?;
        let settled = self.mint.is_settled(hash);
        Some(LookupInvoiceResponse {
            transaction_type: Some(TransactionType::Incoming),
            state: Some(if settled { TransactionState::Settled } else { TransactionState::Pending }),
            invoice: Some(invoice.clone()),
            description: None,
            description_hash: None,
            preimage: self.mint.settled_preimage(hash).map(|p| p.to_hex()),
            payment_hash: hash.to_hex(),
            amount: self.mint.amount(hash).map_or(0, |m| m.0),
            fees_paid: 0,
            created_at: *made_at,
            expires_at: None,
            settled_at: settled.then_some(*made_at),
            metadata: None,
        })
    }

    fn pay(&self, method: Method, bolt11: &str) -> Response {
        if self.opts.strict_invoices
            && let Err(e) = Bolt11Invoice::from_str(bolt11)
        {
            return failure(method, ErrorCode::PaymentFailed, &format!("this wallet cannot pay the invoice: {e}"));
        }
        let invoice = match crate::invoice::read(bolt11) {
            Ok(invoice) => invoice,
            Err(flaw) => return failure(method, ErrorCode::Other, &format!("not an invoice to pay: {flaw}")),
        };
        let Some(amount) = invoice.amount else {
            return failure(method, ErrorCode::Other, "amountless invoices are not supported");
        };
        if invoice.expired_at(Duration::from_secs(Timestamp::now().as_secs())) {
            return failure(method, ErrorCode::PaymentFailed, "the invoice expired");
        }
        let hash = invoice.payment_hash;
        let fee =
            Msats(u64::try_from(u128::from(amount.0) * u128::from(self.opts.fee_ppm) / 1_000_000).unwrap_or(u64::MAX));
        let mut state = self.state.lock().unwrap();
        if state.balance.0 < amount.0.saturating_add(fee.0) {
            return failure(method, ErrorCode::InsufficientBalance, "not enough play sats");
        }
        let preimage = match self.mint.settle(&hash) {
            Ok(p) => p,
            Err(SettleError::UnknownInvoice) => {
                return failure(method, ErrorCode::PaymentFailed, "no route to the payee");
            }
            Err(SettleError::AlreadyPaid | SettleError::WrongAmount) => {
                return failure(method, ErrorCode::PaymentFailed, "invoice already paid");
            }
        };
        state.balance = Msats(state.balance.0 - amount.0 - fee.0);
        let reported = if self.opts.bad_preimage { hex::encode([0x42u8; 32]) } else { preimage.to_hex() };
        state.sent.insert(
            hash,
            Sent { invoice: bolt11.to_string(), amount, fee, preimage: reported.clone(), at: Timestamp::now() },
        );
        // On disk before the answer leaves: the record outlives a killed sandbox.
        if let Some(file) = &self.opts.state_file
            && let Err(e) = save(file, &state)
        {
            tracing::error!("the sandbox wallet cannot write {}: {e}", file.display());
        }
        ok(method, ResponseResult::PayInvoice(PayInvoiceResponse { preimage: reported, fees_paid: Some(fee.0) }))
    }
}
