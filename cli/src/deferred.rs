//! Keys the agent keeps encrypted until their first use: `agentry add --encrypted` sends the
//! key file itself (PuTTY's `add-ppk` for PPK files, so Pageant accepts them too; agentry's
//! `add-key-file@agentry` for OpenSSH and PEM files), `agentry reencrypt` drops decrypted copies
//! again, and `agentry list` marks such keys the way Pageant does.

use crate::keys::{connect, resolve_blobs, Client};
use crate::{Failure, Outcome};
use agentry_core::keyfile::KeyFormat;
use agentry_core::proto::{Constraint, Extension, Request, Response};
use clap::Args;
use ssh_encoding::Encode;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Args)]
pub(crate) struct ReencryptArgs {
    /// Every key that has an encrypted form.
    #[arg(long, conflicts_with = "keys", required_unless_present = "keys")]
    all: bool,
    /// Key files (their .pub is used when present) or fingerprints (SHA256:… or MD5:…).
    #[arg(value_name = "FILE|FINGERPRINT")]
    keys: Vec<String>,
}

/// Adds `file` to be decrypted on first use. `Ok(false)` when the file is not encrypted, so
/// the caller adds it the usual way.
pub(crate) fn add_encrypted(
    client: &mut Client,
    file: &Path,
    constraints: &[Constraint],
) -> Result<bool, Failure> {
    let name = file.display();
    let held = crate::keyload::read_held(file).map_err(Failure::new)?;
    if !held.file.is_encrypted() {
        return Ok(false);
    }
    let bytes = held.bytes.clone();
    let comment = held.comment.clone().into_bytes();
    let extension = if held.file.format() == KeyFormat::Ppk {
        Extension::AddPpk {
            ppk: bytes.clone(),
            constraints: constraints.to_vec(),
        }
    } else {
        Extension::AddKeyFile {
            file: bytes.clone(),
            public_key: held
                .public
                .as_ref()
                .and_then(|k| k.encode_vec().ok())
                .unwrap_or_default(),
            comment: comment.clone(),
            constraints: constraints.to_vec(),
        }
    };
    let refused = || {
        Failure::new(format!(
            "the agent refused to hold {name} encrypted (does it support deferred decryption? `agentry query` lists what it does)"
        ))
    };
    if client.request(&Request::Extension(extension))? != Response::Success {
        return Err(refused());
    }
    let shown = String::from_utf8_lossy(&comment);
    eprintln!("Identity added, encrypted until first use: {name} ({shown})");
    // As ssh-add adds FILE-cert.pub with its key: the same file, listed under the certificate
    // (agentry's extension, for PPK files too); the agent decrypts both with one passphrase.
    match held.certificate(file) {
        Ok(None) => {}
        Ok(Some((cert_path, cert))) => {
            let certificate = Extension::AddKeyFile {
                file: bytes,
                public_key: cert.encode_vec().map_err(|_| refused())?,
                comment,
                constraints: constraints.to_vec(),
            };
            if client.request(&Request::Extension(certificate))? != Response::Success {
                return Err(Failure::new(format!(
                    "the agent refused the certificate {} for {name}",
                    cert_path.display()
                )));
            }
            eprintln!(
                "Certificate added, encrypted until first use: {} ({})",
                cert_path.display(),
                cert.key_id()
            );
        }
        Err(problem) => eprintln!("agentry: {problem}"),
    }
    Ok(true)
}

/// `agentry reencrypt`.
pub(crate) fn reencrypt(args: &ReencryptArgs) -> Outcome {
    let mut client = connect()?;
    if args.all {
        return match client.request(&Request::Extension(Extension::ReencryptAll))? {
            Response::SuccessWith(payload) => {
                let left = agentry_core::wire::Reader::new(&payload).u32().unwrap_or(0);
                eprintln!("Keys re-encrypted; {left} without an encrypted form stay decrypted.");
                Ok(())
            }
            Response::Success => Ok(()),
            _ => Err(Failure::new(
                "no key could be re-encrypted (none has an encrypted form)",
            )),
        };
    }
    let mut outcome = Ok(());
    for key in &args.keys {
        let mut done = false;
        for blob in resolve_blobs(&mut client, key)? {
            let request = Request::Extension(Extension::Reencrypt { key_blob: blob });
            done |= matches!(client.request(&request)?, Response::Success);
        }
        if done {
            eprintln!("Key re-encrypted: {key}");
        } else {
            eprintln!("agentry: {key}: not re-encrypted (the agent holds no encrypted form of it)");
            outcome = Err(Failure::new(""));
        }
    }
    outcome
}

/// Pageant's markers for `list`: " (encrypted)" for keys not decrypted now, " (re-encryptable)"
/// for decrypted keys that have an encrypted form. Empty for agents without `list-extended`.
pub(crate) fn state_labels(client: &mut Client) -> HashMap<Vec<u8>, &'static str> {
    let mut labels = HashMap::new();
    let Ok(Response::SuccessWith(payload)) =
        client.request(&Request::Extension(Extension::ListExtended))
    else {
        return labels;
    };
    let mut r = agentry_core::wire::Reader::new(&payload);
    let count = r.u32().unwrap_or(0);
    for _ in 0..count {
        let (Ok(blob), Ok(_comment), Ok(extra)) = (r.string(), r.string(), r.string()) else {
            break;
        };
        let flags = agentry_core::wire::Reader::new(extra).u32().unwrap_or(0);
        let label = if flags & 2 != 0 {
            " (encrypted)"
        } else if flags & 1 != 0 {
            " (re-encryptable)"
        } else {
            continue;
        };
        labels.insert(blob.to_vec(), label);
    }
    labels
}
