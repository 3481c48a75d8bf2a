//! agentry's platform layer: everything that touches the operating system. It owns the
//! transports that carry agent messages to and from [`agentry_core::Agent`] (the Unix socket,
//! the Windows named pipe and Pageant's WM_COPYDATA window), process hardening, daemon support,
//! the clock that counts suspended time ([`clock`]), the OS keyring ([`keyring`]), the small
//! synchronous client that agentry's own commands use to talk to a running agent, bounded
//! reading of the small files it is given by name ([`small_file`]), naming forwarding hops
//! on prompts from the user's known_hosts files, the helper processes that load PKCS#11
//! providers and security-key middleware ([`helper`]), and asking FIDO authenticators for
//! signatures ([`security_key`]).

// The workspace denies `unsafe`; this crate is where the few necessary OS calls live, each with
// a `// SAFETY:` comment.
#![allow(unsafe_code)]

pub mod client;
pub mod clock;
pub mod frame_io;
pub mod helper;
pub mod keyring;
pub mod known_hosts;
pub mod security_key;
pub mod serve;
pub mod small_file;
pub mod threads;
mod turns;

cfg_if::cfg_if! {
    if #[cfg(unix)] {
        pub mod unix;
    } else if #[cfg(windows)] {
        pub mod windows;
    }
}
