//! The agent on the Windows desktop: a tray icon with Pageant's menu and more ([`tray`]) and the
//! key list window ([`key_list`]), both owned by one UI thread of their own (never the
//! `WM_COPYDATA` window's thread, which blocks while a request waits for a prompt), plus the
//! dialogs they open ([`dialogs`]) and what tests use to drive them from another process
//! ([`probe`]).
//!
//! The UI never touches the agent itself: it asks a [`Desktop`] (the daemon implements it with
//! requests through core, the path every client takes) for what to show, and hands it every
//! [`Action`] on a worker thread, so the UI thread never waits for the agent, a prompt or a
//! slow key file. The agent's change notifications reach the UI thread as a posted message.
//!
//! Another process asks a running agent to open its key list by posting the registered window
//! message [`OPEN_KEY_LIST_MESSAGE`] to the hidden tray window, found by class [`TRAY_CLASS`]
//! and title (the agent's pipe name): [`open_key_list_of_running_agent`].

mod actions;
pub mod dialogs;
pub mod key_list;
pub mod probe;
mod tray;

pub use tray::{menu, Tray};

use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The class of the tray's hidden window; its title is the pipe name the agent serves.
pub const TRAY_CLASS: &str = "agentry tray";

/// The key list window's title.
pub const KEY_LIST_TITLE: &str = "agentry Key List";

/// The registered window message (`RegisterWindowMessageW`) that, posted to the tray window,
/// opens the key list (or brings it to the front). Its parameters are ignored.
pub const OPEN_KEY_LIST_MESSAGE: &str = "agentry-open-key-list";

/// What the tray shows: how many keys, whether locked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrayState {
    /// Keys held.
    pub keys: usize,
    /// The agent is locked.
    pub locked: bool,
}

/// One key list row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRow {
    /// The public key (or certificate) blob, to name the key in [`Action`]s.
    pub key_blob: Vec<u8>,
    /// Type (`ssh-ed25519`, …).
    pub algorithm: String,
    /// Size in bits.
    pub bits: String,
    /// `SHA256:…` or `MD5:…`, as asked.
    pub fingerprint: String,
    /// The comment, escaped for display.
    pub comment: String,
    /// encrypted / decrypted / confirm / restricted / expires in …, comma-separated.
    pub state: String,
}

/// Which fingerprint the key list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FingerprintKind {
    /// `SHA256:` and base64 (OpenSSH's default).
    #[default]
    Sha256,
    /// `MD5:` and colon-separated hex (old PuTTY and OpenSSH).
    Md5,
}

/// Something the user asked for, done by the [`Desktop`] on a worker thread.
#[derive(Debug)]
pub enum Action {
    /// Add the key file; `encrypted` keeps it encrypted until first use.
    AddFile {
        /// The file.
        path: PathBuf,
        /// Hold it encrypted.
        encrypted: bool,
    },
    /// Add the key stored in the OS keyring under this name.
    AddFromKeyring(String),
    /// Remove the key with this blob.
    Remove(Vec<u8>),
    /// Remove every key.
    RemoveAll,
    /// Forget the decrypted copy of this key (it keeps its encrypted form).
    Reencrypt(Vec<u8>),
    /// Forget every decrypted copy that has an encrypted form.
    ReencryptAll,
    /// Lock with this passphrase.
    Lock(Zeroizing<String>),
    /// Unlock with this passphrase.
    Unlock(Zeroizing<String>),
    /// Open the configuration file in an editor.
    OpenConfig,
    /// Stop the agent.
    Exit,
}

/// What the tray and key list ask of the agent. `state`, `rows` and `keyring_names` run on the
/// UI thread and must not wait on prompts; `perform` runs on a worker thread and may.
pub trait Desktop: Send + Sync + 'static {
    /// Key count and lock state now.
    fn state(&self) -> TrayState;
    /// The key list's rows, in the agent's order.
    fn rows(&self, fingerprint: FingerprintKind) -> Vec<KeyRow>;
    /// Names of keys stored in the OS keyring (for "Add Key from OS keyring").
    fn keyring_names(&self) -> Vec<String>;
    /// Does `action`. `Ok(Some(text))` is something to tell the user; `Err(text)` says
    /// precisely why it failed.
    fn perform(&self, action: Action) -> Result<Option<String>, String>;
    /// Calls `notify` (from any thread) after every change to the keys or the lock, until the
    /// agent stops.
    fn on_change(&self, notify: Box<dyn Fn() + Send + Sync>);
    /// The About box's text.
    fn about(&self) -> String;
}

/// Starts the tray on a UI thread of its own; `name` (the agent's pipe) titles its hidden
/// window. A missing notification area (no Explorer) leaves the window and key list working.
pub fn start(desktop: Arc<dyn Desktop>, name: &str) -> std::io::Result<Tray> {
    Tray::start(desktop, name)
}

/// Asks the agent serving `name` (its pipe) to open its key list; false when no such agent has
/// a tray window.
pub fn open_key_list_of_running_agent(name: &str) -> bool {
    probe::find_tray(name).is_some_and(tray::post_open_key_list)
}

/// `s` as a NUL-terminated UTF-16 string.
fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

/// `MAKEINTRESOURCE(id)`: a resource named by number.
fn resource_id(id: u16) -> *const u16 {
    std::ptr::without_provenance(usize::from(id))
}
