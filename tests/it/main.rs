//! Integration tests over real sockets on 127.0.0.1: the sandbox relay, real NIP-47 traffic, real HTTP.
//! One test binary, so the crate links once. Scenario tests read top to bottom, however long.
#![allow(clippy::too_many_lines)]

mod allowances;
mod cli;
mod clients;
mod confined;
mod confirm;
mod crash;
mod credits;
mod dialects;
mod exposure;
mod fiat;
mod harness;
mod hostile;
mod intercept;
mod mcp;
mod nwc;
mod paid;
mod policy;
mod pricing;
mod rates;
mod recovery;
mod refusals;
mod sessions;
mod team;
mod transport;
