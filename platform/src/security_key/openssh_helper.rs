//! The `internal` security-key provider on Unix: OpenSSH's own `ssh-sk-helper`, run once per
//! signature as `ssh-agent` runs it (`ssh-sk-client.c`). The helper links OpenSSH's built-in
//! FIDO support (libfido2), so agentry needs no FIDO library of its own; it can also be given a
//! middleware path, which the tests use. Invariant: the helper never outlives the signature it
//! was started for (killed on drop, or after [`HELPER_TIMEOUT`]).
//!
//! Its protocol (version 5, OpenSSH 8.9 and later): one message each way,
//! `uint32 length || byte version || body`. The request body is `uint32 type (1, sign) ||
//! byte log_on_stderr || uint32 log_level || string private_key || string provider || string
//! data || string algorithm || uint32 compat || string pin`; the reply is `uint32 type ||
//! string signature` or `uint32 0 || uint32 -error`.

use super::SkError;
use agentry_core::keys::SecurityKey;
use agentry_core::wire::{Reader, Writer};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

/// `SSH_SK_HELPER_VERSION`.
const HELPER_VERSION: u8 = 5;
const HELPER_ERROR: u32 = 0;
const HELPER_SIGN: u32 = 1;
/// `SYSLOG_LEVEL_ERROR`: the helper writes its errors (never key material) to its stderr.
const LOG_LEVEL_ERROR: u32 = 2;
const SSH_ERR_KEY_WRONG_PASSPHRASE: u32 = 43;
const SSH_ERR_FEATURE_UNSUPPORTED: u32 = 59;
const SSH_ERR_DEVICE_NOT_FOUND: u32 = 60;
/// Longest reply read (a signature is about 100 bytes).
const MAX_REPLY: usize = 64 * 1024;

/// How long one signature may take, the user's touch included; then the helper is killed.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(120);

/// Where `ssh-sk-helper` is looked for when `SSH_SK_HELPER` is not set: OpenSSH's default and
/// the distributions' places for it.
const HELPER_PATHS: &[&str] = &[
    "/usr/libexec/ssh-sk-helper",
    "/usr/lib/openssh/ssh-sk-helper",
    "/usr/libexec/openssh/ssh-sk-helper",
    "/usr/local/libexec/ssh-sk-helper",
    "/usr/lib/ssh/ssh-sk-helper",
];

/// OpenSSH's `ssh-sk-helper`, found.
#[derive(Debug, Clone)]
pub struct OpensshSkHelper {
    path: PathBuf,
}

impl OpensshSkHelper {
    /// The helper named by `SSH_SK_HELPER` (as OpenSSH honours it), else the first installed in
    /// the usual places; a clear error when there is none.
    pub fn find() -> Result<Self, SkError> {
        if let Some(path) = std::env::var_os("SSH_SK_HELPER").filter(|p| !p.is_empty()) {
            return Self::at(Path::new(&path));
        }
        HELPER_PATHS
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .map(|p| Self { path: p.to_owned() })
            .ok_or_else(|| {
                SkError::NoInternalProvider(
                    "OpenSSH's ssh-sk-helper is not installed (looked in /usr/libexec, \
                     /usr/lib/openssh and /usr/local/libexec); install OpenSSH with FIDO \
                     support, or add the key with a middleware library (SSH_SK_PROVIDER)"
                        .into(),
                )
            })
    }

    /// The helper at `path`.
    pub fn at(path: &Path) -> Result<Self, SkError> {
        if path.is_file() {
            Ok(Self {
                path: path.to_owned(),
            })
        } else {
            Err(SkError::NoInternalProvider(format!(
                "{} is not an ssh-sk-helper",
                path.display()
            )))
        }
    }

    /// The helper's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks the helper for `key`'s signature of `data` through `provider` (`internal`, or a
    /// middleware path); returns the SSH signature blob it made.
    pub async fn sign(
        &self,
        key: &SecurityKey,
        provider: &str,
        data: &[u8],
        pin: Option<&[u8]>,
    ) -> Result<Vec<u8>, SkError> {
        let request = sign_request(key, provider, data, pin);
        let mut child = tokio::process::Command::new(&self.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SkError::Helper(format!("cannot run {}: {e}", self.path.display())))?;
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SkError::Helper("helper pipes missing".into()));
        };
        let converse = async {
            stdin.write_all(&request).await?;
            drop(stdin);
            let mut reply = Vec::new();
            (&mut stdout)
                .take(MAX_REPLY as u64)
                .read_to_end(&mut reply)
                .await?;
            let mut errors = Vec::new();
            (&mut stderr).take(4096).read_to_end(&mut errors).await?;
            Ok::<_, std::io::Error>((reply, errors))
        };
        let (reply, errors) = tokio::time::timeout(HELPER_TIMEOUT, converse)
            .await
            .map_err(|_| SkError::Helper("no answer in time; helper stopped".into()))?
            .map_err(|e| SkError::Helper(format!("talking to the helper: {e}")))?;
        let _ = child.wait().await;
        let errors = String::from_utf8_lossy(&errors);
        if let Some(last) = errors.lines().rev().find(|l| !l.trim().is_empty()) {
            tracing::debug!(target: "agentry::sk", helper_error = %last.trim(), "ssh-sk-helper said");
        }
        parse_reply(&reply)
    }
}

/// The framed sign request.
fn sign_request(
    key: &SecurityKey,
    provider: &str,
    data: &[u8],
    pin: Option<&[u8]>,
) -> Zeroizing<Vec<u8>> {
    let mut body = Writer::new();
    body.u8(HELPER_VERSION)
        .u32(HELPER_SIGN)
        .u8(1)
        .u32(LOG_LEVEL_ERROR)
        .string(&key.private_blob())
        .string(provider.as_bytes())
        .string(data)
        .string(b"")
        .u32(0)
        .string(pin.unwrap_or_default());
    let body = Zeroizing::new(body.into_bytes());
    let mut framed = Writer::with_capacity(body.len() + 4);
    framed.string(&body);
    Zeroizing::new(framed.into_bytes())
}

/// The signature in a reply, or why there is none.
fn parse_reply(reply: &[u8]) -> Result<Vec<u8>, SkError> {
    let mut r = Reader::new(reply);
    let mut body = match r.string() {
        Ok(body) if r.is_empty() => Reader::new(body),
        _ => {
            return Err(SkError::Helper(
                "the helper ended without a complete answer (see its error above in the log, \
                 at debug level)"
                    .into(),
            ))
        }
    };
    let malformed = |_| SkError::Malformed("ssh-sk-helper reply");
    if body.u8().map_err(malformed)? != HELPER_VERSION {
        return Err(SkError::Helper(
            "the helper speaks another protocol version".into(),
        ));
    }
    match body.u32().map_err(malformed)? {
        HELPER_ERROR => Err(match body.u32().map_err(malformed)? {
            SSH_ERR_KEY_WRONG_PASSPHRASE => SkError::PinRequired,
            SSH_ERR_DEVICE_NOT_FOUND => SkError::DeviceNotFound,
            SSH_ERR_FEATURE_UNSUPPORTED => SkError::Unsupported,
            other => SkError::Failed(-i32::try_from(other).unwrap_or(i32::MAX)),
        }),
        HELPER_SIGN => {
            let sig = body.string().map_err(malformed)?.to_vec();
            body.finish().map_err(malformed)?;
            Ok(sig)
        }
        _ => Err(SkError::Malformed("unexpected ssh-sk-helper reply type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_decode() {
        let mut w = Writer::new();
        w.nested(|b| {
            b.u8(5).u32(1).string(b"sig");
        });
        assert_eq!(parse_reply(&w.into_bytes()), Ok(b"sig".to_vec()));
        let mut w = Writer::new();
        w.nested(|b| {
            b.u8(5).u32(0).u32(43);
        });
        assert_eq!(parse_reply(&w.into_bytes()), Err(SkError::PinRequired));
        let mut w = Writer::new();
        w.nested(|b| {
            b.u8(4).u32(1).string(b"sig");
        });
        assert!(matches!(
            parse_reply(&w.into_bytes()),
            Err(SkError::Helper(_))
        ));
        assert!(matches!(parse_reply(&[]), Err(SkError::Helper(_))));
        assert!(matches!(
            parse_reply(&[0, 0, 0, 9, 5]),
            Err(SkError::Helper(_))
        ));
    }
}
