//! Helper processes: provider libraries (PKCS#11 modules, and security-key middleware) run in a
//! child process the agent starts (`agentry helper KIND`), as OpenSSH runs `ssh-pkcs11-helper`,
//! so that a faulty or hostile library can neither crash the agent nor read its memory. The
//! agent's end is [`HelperProcess`] (bounded, one request at a time per helper) and, for
//! PKCS#11, [`Pkcs11Providers`]; the helper's end is [`run_helper`], a loop that answers framed
//! [`HelperRequest`](agentry_core::proto::HelperRequest)s on standard input with
//! [`HelperReply`](agentry_core::proto::HelperReply)s on standard output (docs/protocol.md,
//! "Helper processes"). Provider paths are resolved and checked against the allow-list
//! ([`provider_path`]) before a helper ever sees them.

mod der;
mod pkcs11_providers;
mod pkcs11_token;
mod process;
pub mod provider_path;
mod reply_channel;

pub use pkcs11_providers::{Pkcs11Providers, LOAD_TIMEOUT, SIGN_TIMEOUT};
pub use process::{HelperCommand, HelperError, HelperKind, HelperProcess};

use crate::frame_io::{read_frame, write_frame};
use agentry_core::proto::{HelperFailure, HelperReply, HelperRequest};

/// The helper's main loop: answers requests on standard input until it closes. Standard output
/// carries only reply frames (a library's own prints go to standard error on Unix). Returns an
/// error only if the pipes fail.
pub fn run_helper(kind: HelperKind) -> std::io::Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = reply_channel::take()?;
    let mut pkcs11 = pkcs11_token::Pkcs11Helper::default();
    #[cfg(unix)]
    let mut sk = crate::security_key::library_helper::SkLibraryHelper::default();
    while let Some(body) = read_frame(&mut stdin)? {
        let reply = match (kind, HelperRequest::decode(&body)) {
            (HelperKind::Pkcs11, Ok(request)) => pkcs11.handle(request),
            #[cfg(unix)]
            (HelperKind::Sk, Ok(request)) => sk.handle(request),
            #[cfg(not(unix))]
            (HelperKind::Sk, Ok(_)) => HelperReply::failure(
                HelperFailure::Other,
                "security key libraries are not loaded on this system",
            ),
            (_, Err(e)) => HelperReply::failure(HelperFailure::Other, format!("bad request: {e}")),
        };
        write_frame(&mut stdout, &reply.encode())?;
    }
    Ok(())
}
