//! Shared pieces of agentry's black-box tests: the [`transport::Transport`] abstraction the
//! conformance suite is written against, an in-process agent served on a temporary Unix socket
//! ([`server::TestAgent`]) or on a Windows pipe and window (`windows::WinTestAgent`), fixture
//! access ([`fixtures`]), helpers for driving real tools ([`tools`]), loopback sshd servers alone
//! ([`sshd`]) or chained for agent forwarding ([`chain`]), a private Secret Service for
//! keyring tests (`secret_service`), OpenSSH's software FIDO authenticator (`sk_dummy`), and
//! the Windows agentry.exe under Wine for Linux-side tests of the WSL bridge ([`wine`]). The
//! tests themselves live in `tests/`.

#[cfg(unix)]
pub mod chain;
pub mod fixtures;
mod server_thread;
pub mod transport;

#[cfg(all(unix, not(target_os = "macos")))]
pub mod secret_service;
#[cfg(unix)]
pub mod server;
#[cfg(unix)]
pub mod sk_dummy;
#[cfg(unix)]
pub mod sshd;
pub mod tools;
#[cfg(windows)]
pub mod windows;
#[cfg(unix)]
pub mod wine;
