//! agentry's platform-neutral core: the agent protocol codec ([`frame`], [`wire`], [`proto`]),
//! keys and signing ([`keys`]), and the agent itself ([`agent`]) with its keystore, constraints
//! and lock. It performs no I/O and contains no `unsafe` and no platform conditionals: transports
//! hand it message bodies, and prompts and clocks come in through the [`prompt`] and [`clock`]
//! traits; [`known_hosts`] names hosts from known_hosts text the platform reads; [`text`] escapes
//! client-chosen text before it is shown in a prompt or a log; [`mux`] is the framing between
//! `agentry bridge` and `agentry relay --mux`.

#![forbid(unsafe_code)]

pub mod agent;
pub mod clock;
pub mod frame;
pub mod keyfile;
pub mod keys;
pub mod known_hosts;
pub mod mux;
mod pattern;
pub mod prompt;
pub mod proto;
pub mod provider_allow;
mod reported;
pub mod session;
pub mod text;
pub mod wire;

pub use agent::{
    AddError, Agent, AgentOptions, ConfirmPolicy, DeferredPublic, ExternalKey, ExternalSignRequest,
    ExternalSigner, KeyInfo, LoadedProvider, ProviderError, SecurityKeyProviders, ThreadStarter,
    TokenProviders, MAX_IDENTITIES_REPLY,
};
pub use frame::MAX_MESSAGE_LEN;
pub use provider_allow::ProviderAllowList;
pub use session::{ClientInfo, ReportedClient, Session};
