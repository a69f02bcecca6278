//! A small NIP-47 client over `nostr-sdk`'s relay pool, with the `nostr` crate's NIP-47 types and its NIP-44
//! v2 and NIP-04 encryption.
//!
//! The wallet's info event (kind 13194) decides the encryption: NIP-44 v2 when its `encryption` tag offers
//! it, NIP-04 otherwise (also when there is no tag). Requests are sent without waiting for the relay's `OK`
//! (some relays never send one for ephemeral kinds), and answers are matched to requests by their `e` tag,
//! so events a relay replays from earlier sessions are ignored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use nostr_sdk::nips::nip47::{
    ListTransactionsRequest, LookupInvoiceRequest, LookupInvoiceResponse, MakeInvoiceRequest, NostrWalletConnectURI,
    PayInvoiceRequest, Request, Response, TransactionType,
};
use nostr_sdk::nips::{nip04, nip44};
use nostr_sdk::prelude::*;
use tokio::sync::{OnceCell, oneshot};

use super::{Error, Lookup, Paid, Result, Wallet, WalletInfo};
use crate::units::{Msats, PaymentHash, Preimage};

/// Time limits for one connection.
#[derive(Debug, Clone)]
pub struct NwcOptions {
    /// How long to wait for the relay connection before calling the wallet unreachable.
    pub connect_timeout: Duration,
    /// How long to wait for an answer to `get_info`, `get_balance` and `lookup_invoice`.
    pub request_timeout: Duration,
    /// How long to wait for an answer to `pay_invoice` (routing can take a while).
    pub pay_timeout: Duration,
}

impl Default for NwcOptions {
    fn default() -> Self {
        NwcOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            pay_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encryption {
    Nip44,
    Nip04,
}

impl Encryption {
    fn name(self) -> &'static str {
        match self {
            Encryption::Nip44 => "nip44_v2",
            Encryption::Nip04 => "nip04",
        }
    }
}

/// A request waiting for the wallet: its answer goes to `answer`. Each relay that refuses the request
/// (`OK false`: rate limits, size, policy) is counted; once every relay has, no wallet can have seen it.
struct Waiting {
    answer: oneshot::Sender<std::result::Result<Event, RelaysRefused>>,
    relays_left: usize,
    refusals: Vec<String>,
}

type Pending = Arc<Mutex<HashMap<EventId, Waiting>>>;

/// Every relay refused a request (`OK false`), each with its message.
#[derive(Debug)]
struct RelaysRefused(Vec<String>);

/// A connection to one NIP-47 wallet service.
pub struct NwcWallet {
    uri: NostrWalletConnectURI,
    keys: Keys,
    client: Client,
    opts: NwcOptions,
    /// Requests waiting for their answer, by request event id.
    pending: Pending,
    /// Set once the relays are connected and the answer subscription is open.
    ready: OnceCell<()>,
    /// Decided once from the wallet's info event.
    encryption: OnceCell<Encryption>,
}

impl NwcWallet {
    pub fn new(uri: &str, opts: NwcOptions) -> Result<Self> {
        // The parser decides; when it refuses, the person is told which part is wrong.
        let uri = NostrWalletConnectURI::parse(uri.trim())
            .map_err(|e| Error::BadUri(super::uri_check::problem(uri).unwrap_or_else(|| e.to_string())))?;
        let keys = Keys::new(uri.secret.clone());
        Ok(NwcWallet {
            uri,
            keys,
            client: Client::builder().build(),
            opts,
            pending: Arc::new(Mutex::new(HashMap::new())),
            ready: OnceCell::new(),
            encryption: OnceCell::new(),
        })
    }

    /// The wallet service's public key (hex), for display.
    pub fn wallet_pubkey(&self) -> String {
        self.uri.public_key.to_hex()
    }

    async fn connect(&self) -> Result<()> {
        self.ready
            .get_or_try_init(|| async {
                for relay in &self.uri.relays {
                    self.client.add_relay(relay.clone()).await.map_err(|e| Error::Unreachable(e.to_string()))?;
                }
                self.client.connect().await;
                self.client.wait_for_connection(self.opts.connect_timeout).await;
                if !self.client.relays().await.values().any(|r| r.is_connected()) {
                    return Err(Error::Unreachable(format!(
                        "no relay of {} answered within {} s",
                        relay_list(&self.uri),
                        self.opts.connect_timeout.as_secs()
                    )));
                }
                spawn_answer_router(&self.client, self.uri.public_key, self.pending.clone());
                let answers = Filter::new()
                    .kind(Kind::WalletConnectResponse)
                    .author(self.uri.public_key)
                    .pubkey(self.keys.public_key())
                    .since(Timestamp::now() - Duration::from_secs(60));
                self.client.subscribe(answers, None).await.map_err(|e| Error::Unreachable(e.to_string()))?;
                Ok(())
            })
            .await
            .map(|_| ())
    }

    async fn encryption(&self) -> Result<Encryption> {
        self.encryption
            .get_or_try_init(|| async {
                let filter = Filter::new().kind(Kind::WalletConnectInfo).author(self.uri.public_key).limit(1);
                let events = self
                    .client
                    .fetch_events(filter, self.opts.request_timeout)
                    .await
                    .map_err(|e| Error::Unreachable(e.to_string()))?;
                let offered: Vec<String> = events
                    .first()
                    .and_then(|info| {
                        info.tags.iter().find(|t| t.kind() == TagKind::custom("encryption")).and_then(|t| t.content())
                    })
                    .map(|c| c.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                Ok(if offered.iter().any(|e| e == "nip44_v2") { Encryption::Nip44 } else { Encryption::Nip04 })
            })
            .await
            .copied()
    }

    async fn call(&self, request: Request, timeout: Duration) -> Result<Response> {
        self.connect().await?;
        let enc = self.encryption().await?;
        let json = request.as_json();
        let content = match enc {
            Encryption::Nip44 => nip44::encrypt(&self.uri.secret, &self.uri.public_key, json, nip44::Version::V2)
                .map_err(|e| Error::Protocol(e.to_string()))?,
            Encryption::Nip04 => nip04::encrypt(&self.uri.secret, &self.uri.public_key, json)
                .map_err(|e| Error::Protocol(e.to_string()))?,
        };
        let mut builder = EventBuilder::new(Kind::WalletConnectRequest, content)
            .tag(Tag::public_key(self.uri.public_key))
            // NIP-40: a request nobody answered in time must not be acted on later (relays may keep it).
            .tag(Tag::expiration(Timestamp::now() + timeout));
        if enc == Encryption::Nip44 {
            builder = builder.tag(Tag::custom(TagKind::custom("encryption"), ["nip44_v2"]));
        }
        let event = builder.sign_with_keys(&self.keys).map_err(|e| Error::Protocol(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        let urls: Vec<RelayUrl> = self.uri.relays.clone();
        let waiting = Waiting { answer: tx, relays_left: urls.len(), refusals: Vec::new() };
        self.pending.lock().unwrap().insert(event.id, waiting);
        if let Err(e) = self.client.send_msg_to(urls, ClientMessage::event(event.clone())).await {
            self.pending.lock().unwrap().remove(&event.id);
            return Err(Error::Unreachable(e.to_string()));
        }
        let answer = tokio::time::timeout(timeout, rx).await;
        self.pending.lock().unwrap().remove(&event.id);
        let answer = match answer {
            Ok(Ok(Ok(ev))) => ev,
            // Refused by every relay before any wallet could see it: nothing was asked, let alone paid.
            Ok(Ok(Err(RelaysRefused(refusals)))) => {
                let refusals = refusals.join("; ");
                return Err(Error::Unreachable(format!("the relay refused the request: {refusals}")));
            }
            _ => {
                return Err(Error::Timeout { secs: timeout.as_secs() });
            }
        };
        let plain = match enc {
            Encryption::Nip44 => {
                nip44::decrypt(&self.uri.secret, &self.uri.public_key, &answer.content).or_else(|_| {
                    nip04::decrypt(&self.uri.secret, &self.uri.public_key, &answer.content).map_err(|e| e.to_string())
                })
            }
            Encryption::Nip04 => {
                nip04::decrypt(&self.uri.secret, &self.uri.public_key, &answer.content).map_err(|e| e.to_string())
            }
        }
        .map_err(|e| Error::Protocol(format!("cannot decrypt the answer: {e}")))?;
        let response = Response::from_json(&plain).map_err(|e| Error::Protocol(e.to_string()))?;
        if let Some(err) = &response.error {
            return Err(Error::Refused { code: err.code, message: err.message.clone() });
        }
        Ok(response)
    }
}

fn relay_list(uri: &NostrWalletConnectURI) -> String {
    uri.relays.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
}

/// Hands each wallet answer to the request waiting for it; answers nobody waits for are dropped.
fn spawn_answer_router(client: &Client, wallet: PublicKey, pending: Pending) {
    let mut notifications = client.notifications();
    tokio::spawn(async move {
        loop {
            match notifications.recv().await {
                Ok(RelayPoolNotification::Event { event, .. }) => {
                    if event.kind != Kind::WalletConnectResponse || event.pubkey != wallet {
                        continue;
                    }
                    let waiting = event.tags.event_ids().find_map(|id| pending.lock().unwrap().remove(id));
                    if let Some(waiting) = waiting {
                        let _ = waiting.answer.send(Ok(*event));
                    }
                }
                // "duplicate:" means the relay already has the request: it was delivered, not refused.
                Ok(RelayPoolNotification::Message {
                    relay_url,
                    message: RelayMessage::Ok { event_id, status: false, message },
                }) if !message.starts_with("duplicate:") => {
                    let mut pending = pending.lock().unwrap();
                    let Some(waiting) = pending.get_mut(&event_id) else { continue };
                    waiting.relays_left = waiting.relays_left.saturating_sub(1);
                    waiting.refusals.push(format!("{relay_url}: {message}"));
                    if waiting.relays_left == 0
                        && let Some(waiting) = pending.remove(&event_id)
                    {
                        let _ = waiting.answer.send(Err(RelaysRefused(waiting.refusals)));
                    }
                }
                Ok(RelayPoolNotification::Shutdown) => break,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

fn preimage(hex: &str) -> Result<Preimage> {
    Preimage::from_hex(hex)
        .ok_or_else(|| Error::Protocol("the wallet returned a preimage that is not 32 bytes of hex".into()))
}

#[async_trait]
impl Wallet for NwcWallet {
    async fn get_info(&self) -> Result<WalletInfo> {
        let info = self
            .call(Request::get_info(), self.opts.request_timeout)
            .await?
            .to_get_info()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        let encryption = self.encryption().await?.name().to_string();
        Ok(WalletInfo {
            alias: info.alias,
            network: info.network,
            methods: info.methods.iter().map(|m| m.as_str().to_string()).collect(),
            encryption,
        })
    }

    async fn get_balance(&self) -> Result<Msats> {
        let balance = self
            .call(Request::get_balance(), self.opts.request_timeout)
            .await?
            .to_get_balance()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        Ok(Msats(balance.balance))
    }

    async fn pay_invoice(&self, bolt11: &str) -> Result<Paid> {
        let paid = self
            .call(Request::pay_invoice(PayInvoiceRequest::new(bolt11)), self.opts.pay_timeout)
            .await?
            .to_pay_invoice()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        Ok(Paid { preimage: preimage(&paid.preimage)?, fee: Msats(paid.fees_paid.unwrap_or(0)) })
    }

    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<Lookup> {
        let req = LookupInvoiceRequest { payment_hash: Some(payment_hash.to_hex()), invoice: None };
        let found = self
            .call(Request::lookup_invoice(req), self.opts.request_timeout)
            .await?
            .to_lookup_invoice()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        lookup(found)
    }

    async fn make_invoice(&self, amount_msat: u64, description: &str, expiry_secs: u64) -> Result<String> {
        let req = MakeInvoiceRequest {
            amount: amount_msat,
            description: Some(description.to_string()),
            description_hash: None,
            expiry: Some(expiry_secs),
        };
        let made = self
            .call(Request::make_invoice(req), self.opts.request_timeout)
            .await?
            .to_make_invoice()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        Ok(made.invoice)
    }

    async fn list_payments(&self, since_unix: u64) -> Result<Vec<Lookup>> {
        let req = ListTransactionsRequest {
            from: Some(Timestamp::from(since_unix)),
            transaction_type: Some(TransactionType::Outgoing),
            ..Default::default()
        };
        let found = self
            .call(Request::list_transactions(req), self.opts.request_timeout)
            .await?
            .to_list_transactions()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        found.into_iter().map(lookup).collect()
    }
}

fn lookup(found: LookupInvoiceResponse) -> Result<Lookup> {
    Ok(Lookup {
        payment_hash: PaymentHash::from_hex(&found.payment_hash),
        state: found.state.and_then(|s| serde_json::to_value(s).ok()).and_then(|v| v.as_str().map(str::to_string)),
        preimage: found.preimage.as_deref().map(preimage).transpose()?,
        amount: Msats(found.amount),
        fee: Msats(found.fees_paid),
    })
}
