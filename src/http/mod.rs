//! The HTTP pieces the proxy, the payment flow and the pricing fetcher share: bodies and the replay buffer,
//! hop-by-hop header handling, the client that reaches APIs, where a request goes, and how one ends
//! without an upstream answer.

pub mod body;
pub mod client;
pub mod failure;
pub mod headers;
pub mod target;
