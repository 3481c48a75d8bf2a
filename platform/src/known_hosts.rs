//! Names for the hosts on a prompt's forwarding path (confirmations and passphrases), read from
//! the user's known_hosts files. [`KnownHostsNames`] wraps any [`Prompter`]: before the question
//! is shown it reads the files (on a blocking thread), and every hop the key's destination
//! constraints did not already name gets the name known_hosts gives its host key
//! ([`agentry_core::known_hosts`]).

use agentry_core::known_hosts::KnownHosts;
use agentry_core::prompt::{ConfirmRequest, PassphraseRequest, PathHop, PromptFuture, Prompter};
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A [`Prompter`] that names forwarding hops from known_hosts files, then asks `inner`.
#[derive(Clone)]
pub struct KnownHostsNames {
    inner: Arc<dyn Prompter>,
    files: Vec<PathBuf>,
}

impl core::fmt::Debug for KnownHostsNames {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KnownHostsNames")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl KnownHostsNames {
    /// Names hops from `files` (missing files are skipped) before asking `inner`.
    pub fn new(inner: Arc<dyn Prompter>, files: Vec<PathBuf>) -> Self {
        Self { inner, files }
    }
}

/// OpenSSH's default `UserKnownHostsFile` and `GlobalKnownHostsFile`.
pub fn default_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let home = std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" });
    if let Some(home) = home.filter(|h| !h.is_empty()) {
        let ssh = PathBuf::from(home).join(".ssh");
        files.push(ssh.join("known_hosts"));
        files.push(ssh.join("known_hosts2"));
    }
    let global = if cfg!(windows) {
        std::env::var_os("ProgramData").map(|p| PathBuf::from(p).join("ssh"))
    } else {
        Some(PathBuf::from("/etc/ssh"))
    };
    if let Some(dir) = global {
        files.push(dir.join("ssh_known_hosts"));
        files.push(dir.join("ssh_known_hosts2"));
    }
    files
}

/// The largest known_hosts file read (a FIFO or a device is skipped too).
const KNOWN_HOSTS_LIMIT: u64 = 64 << 20;

/// The entries of the known_hosts `files` that exist and can be read (others are skipped, as
/// OpenSSH skips them).
pub fn read_files(files: &[PathBuf]) -> KnownHosts {
    let mut hosts = KnownHosts::default();
    for file in files {
        if let Ok(text) = crate::small_file::read_small_text(file, KNOWN_HOSTS_LIMIT) {
            hosts.add(&text);
        }
    }
    hosts
}

impl Prompter for KnownHostsNames {
    fn confirm(&self, mut request: ConfirmRequest) -> PromptFuture<bool> {
        let inner = Arc::clone(&self.inner);
        let files = self.files.clone();
        Box::pin(async move {
            name_hops(files, &mut request.forwarding_path).await;
            inner.confirm(request).await
        })
    }

    fn passphrase(
        &self,
        mut request: PassphraseRequest,
    ) -> PromptFuture<Option<Zeroizing<String>>> {
        let inner = Arc::clone(&self.inner);
        let files = self.files.clone();
        Box::pin(async move {
            name_hops(files, &mut request.forwarding_path).await;
            inner.passphrase(request).await
        })
    }
}

/// Names every unnamed hop of `path` from the known_hosts `files` (read on a blocking thread,
/// and only when some hop needs a name).
async fn name_hops(files: Vec<PathBuf>, path: &mut [PathHop]) {
    if path.iter().all(|hop| hop.name.is_some()) {
        return;
    }
    let hosts = tokio::task::spawn_blocking(move || read_files(&files))
        .await
        .unwrap_or_default();
    let now = agentry_core::clock::Clock::unix_time(&agentry_core::clock::TokioClock);
    for hop in path {
        if hop.name.is_none() {
            hop.name = hosts.name_for(&hop.host_key, now);
        }
    }
}
