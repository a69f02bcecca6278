//! Purser's core: a loopback proxy that pays HTTP `402 Payment Required` Lightning challenges for AI agents
//! through the user's own wallet (Nostr Wallet Connect), under the user's limits, and records every sat.
//!
//! The headless `purser` binary and the desktop shell run this same core; nothing here depends on a window.
//!
//! # Layout
//!
//! - [`proxy`]: the listener, the two ways in (forward proxy and gateway), `CONNECT` interception, agent
//!   keys, the control and agent endpoints, and the one mapping from failures to HTTP answers. It forwards;
//!   a `402` goes to the flow.
//! - [`flow`]: what happens after a 402, top to bottom: read the challenge, check the invoice and the price,
//!   decide, hold for a person, reserve, mark paying, pay, settle, apply the proof, retry, record delivery,
//!   raise alerts. A dry run is the same flow stopping before the reservation.
//! - [`challenge`]: turns a 402 response (L402/LSAT, MPP `Payment`, x402, hash-only, JSON bodies) into one
//!   [`challenge::PaymentChallenge`], preferring the strongest proof.
//! - [`invoice`]: BOLT11 checks by BOLT 11's reader rules (signature, amount, expiry, network, payment hash,
//!   required features).
//! - [`policy`]: the decision whether a payment may go ahead: budgets, thresholds, rules, pause, breaker.
//! - [`approval`]: payments held for a person's decision, and a person's answer from wherever it comes.
//! - [`allowances`]: task allowances as a person answers, opens, raises and closes them.
//! - [`team_approvals`]: the payments waiting on a team's machines, as a supervisor at any one sees and
//!   answers them.
//! - [`consent`]: the passphrase (or typed amount) a confirm-tier approval or a change from the CLI needs.
//! - [`wallet`]: the [`wallet::Wallet`] trait, its NIP-47 implementation, the handle to the wallet in use,
//!   and where the connection URI is kept.
//! - [`ledger`]: the SQLite store (agents, payments, policy, credentials, alerts, prices) and its exports;
//!   the only module that knows SQL.
//! - [`pricing`]: the pricing documents APIs publish, fetched, read and cached.
//! - [`rates`]: BTC prices in the person's currency from several sources, raced, sanity-checked, cached; never
//!   stale.
//! - [`mcp`]: the MCP server agents talk to over stdio or Streamable HTTP; each tool one call to the agent
//!   endpoints with the agent's own key.
//! - [`http`]: the HTTP pieces the proxy, the flow and the pricing fetcher share (bodies, headers, the
//!   upstream client, request targets, failures).
//! - [`recovery`]: payments whose outcome was never written, resolved with the wallet's own record.
//! - [`startup`]: the one start-up `purser serve`, `purser sandbox`, the desktop app and the tests share.
//! - [`sandbox`]: play sats: an in-process Nostr relay, a NIP-47 wallet service, and a demo paid API.
//! - [`events`]: typed events from the core for whoever listens (the log, the desktop's window and
//!   notifications).
//! - [`units`]: amounts with their unit in the type, and the payment hash / preimage newtypes.
//! - [`config`]: settings with their defaults, and the data directory.
//! - [`ca`]: the local certificate authority that lets the proxy read agents' HTTPS.
//! - [`agent_env`]: what an agent's shell needs to go through Purser (`purser env`).
//! - [`agent_keys`]: agents' keys kept user-only, so `purser env` can print an agent's settings again.
//! - [`confine`]: the sandbox `purser run` starts an agent in, away from Purser's files and the keyring.
//! - [`fuzzing`]: the fuzz targets' entry points (challenges, JSON bodies, invoices), shared with the tests.
//! - [`fd_limit`]: the open-file limit raised for many held agent connections.
//! - [`private_fs`]: owner-only files and folders, written whole or not at all.
//! - [`port_owner`]: who holds the port Purser was told to listen on, when it is taken.
//! - [`bounded`]: the map caches fed by agents and APIs are kept in, bounded in entries and bytes.

pub mod agent_env;
pub mod agent_keys;
pub mod allowances;
pub mod approval;
pub mod bounded;
pub mod ca;
pub mod challenge;
pub mod config;
pub mod confine;
pub mod consent;
pub mod database_setting;
pub mod events;
pub mod fd_limit;
pub mod flow;
pub mod fuzzing;
pub mod http;
pub mod invoice;
pub mod ledger;
pub mod mcp;
pub mod policy;
pub mod port_owner;
pub mod pricing;
pub mod private_fs;
pub mod proxy;
pub mod rates;
pub mod recovery;
pub mod sandbox;
pub mod startup;
pub mod team_approvals;
pub mod units;
pub mod wallet;

/// Installs the process-wide TLS crypto provider once; safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
