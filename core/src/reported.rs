//! Who a bridge reports a relayed connection comes from ([`ReportedClient`]): carried in the mux's
//! open frame ([`crate::mux`]) and in `client-identity@agentry` ([`crate::proto::Extension`]),
//! shown in prompts as reported. The invariant: a decoded or encoded name is UTF-8 and at most
//! [`MAX_IDENTITY_FIELD`] bytes, and it is only ever shown escaped ([`crate::text::untrusted`]).

use crate::wire::{Reader, WireError};

/// Longest program name or distribution name carried.
pub const MAX_IDENTITY_FIELD: usize = 256;

/// Who a bridge says it relays a connection for (`agentry bridge` sends it in its mux open
/// frame, `agentry relay` passes it on with `client-identity@agentry`). Nobody can check it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportedClient {
    /// The client's process id on the bridge's side; 0 when unknown.
    pub pid: u32,
    /// The client's program name (e.g. `ssh`); may be empty.
    pub program: String,
    /// The WSL distribution the bridge runs in (`$WSL_DISTRO_NAME`); empty outside WSL.
    pub distribution: String,
}

impl core::fmt::Display for ReportedClient {
    /// `ssh (pid 4242) in WSL Debian, via agentry bridge`, client-chosen text escaped.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let program = crate::text::untrusted(&self.program);
        match (program.is_empty(), self.pid) {
            (false, 0) => f.write_str(&program)?,
            (false, pid) => write!(f, "{program} (pid {pid})")?,
            (true, 0) => f.write_str("unknown program")?,
            (true, pid) => write!(f, "pid {pid}")?,
        }
        if !self.distribution.is_empty() {
            write!(f, " in WSL {}", crate::text::untrusted(&self.distribution))?;
        }
        f.write_str(", via agentry bridge")
    }
}

/// A program or distribution name: UTF-8, at most [`MAX_IDENTITY_FIELD`] bytes.
pub(crate) fn identity_field(r: &mut Reader<'_>, what: &'static str) -> Result<String, WireError> {
    let text = r.utf8(what)?;
    if text.len() > MAX_IDENTITY_FIELD {
        return Err(WireError::TooLarge(what));
    }
    Ok(text.to_owned())
}

/// `text` cut to at most [`MAX_IDENTITY_FIELD`] bytes on a character boundary.
pub(crate) fn clip(text: &str) -> &str {
    let mut end = text.len().min(MAX_IDENTITY_FIELD);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
