//! The Unix side of agentry: serving the agent on a Unix domain socket ([`serve`]), choosing,
//! securing and cleaning up the socket path ([`socket`]), noticing when it is gone
//! ([`socket_watch`]), checking who connects ([`peer`]), systemd socket activation
//! ([`activation`]), process hardening and daemon helpers ([`process`]), and the signals that
//! stop the agent ([`signals`]); `agentry bridge`'s relay to the Windows agent ([`bridge`]).

pub mod activation;
pub mod askpass;
pub mod bridge;
pub mod peer;
pub mod process;
pub mod serve;
pub mod signals;
pub mod socket;
pub mod socket_watch;
pub mod terminal;

pub use serve::{serve, ServeOptions, MAX_CONNECTIONS};
pub use socket::{bind_agent_socket, default_socket_path, AgentSocket, SocketError};
