//! Shared pieces of agentry's black-box tests: the [`transport::Transport`] abstraction the
//! conformance suite is written against, an in-process agent served on a temporary Unix socket
//! ([`server::TestAgent`]) or on a Windows pipe and window (`windows::WinTestAgent`), fixture access ([`fixtures`]) and helpers for driving real tools
//! ([`tools`]), loopback sshd servers alone ([`sshd`]) or chained for agent forwarding
//! ([`chain`]). The tests themselves live in `tests/`.

#[cfg(unix)]
pub mod chain;
pub mod fixtures;
pub mod transport;

#[cfg(unix)]
pub mod server;
#[cfg(unix)]
pub mod sshd;
#[cfg(unix)]
pub mod tools;
#[cfg(windows)]
pub mod windows;
