//! The Windows side of agentry: Pageant's named pipe name ([`name`]), the private security
//! descriptor and SID checks ([`security`]), whether a key file is private ([`file_access`]),
//! the named pipe server ([`pipe`]), token privileges and Wine detection for tests ([`privilege`]), the confirmation and passphrase dialogs ([`prompt`]), the tray icon and key list window ([`desktop`]), process hardening ([`process`]), handle and memory figures for the benchmarks ([`process_stats`]), the logon `Run` value ([`registry`]), Pageant's legacy
//! `WM_COPYDATA` window ([`copydata`]) and its shared memory ([`mapping`]) and the matching clients ([`client`]).

pub mod client;
pub mod copydata;
pub mod desktop;
pub mod file_access;
pub mod mapping;
pub mod name;
pub mod pipe;
pub mod privilege;
pub mod process;
pub mod process_stats;
pub mod prompt;
pub mod registry;
pub mod security;

pub use name::{pageant_pipe_name, OPENSSH_PIPE, PAGEANT_WINDOW};
pub use pipe::{serve_pipe, PipeError, PipeListener};
