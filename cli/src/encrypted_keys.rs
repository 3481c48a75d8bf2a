//! Keys the agent keeps encrypted until their first use: `agentry add --encrypted` sends the
//! key file itself (PuTTY's `add-ppk` for PPK files, so Pageant accepts them too; agentry's
//! `add-key-file@agentry` for OpenSSH and PEM files), `agentry reencrypt` drops decrypted copies
//! again, and `agentry list` marks such keys the way Pageant does.

use crate::agent_state::{refusal, AgentState, HOW_TO_PROMPT};
use crate::client::{connect, Client, Target};
use crate::key_args::resolve_blobs;
use crate::{Failure, Outcome};
use agentry_core::keyfile::KeyFormat;
use agentry_core::proto::{Constraint, Extension, ReencryptAllReply, Request, Response};
use clap::Args;
use ssh_encoding::Encode;
use std::path::Path;

#[derive(Debug, Args)]
pub(crate) struct ReencryptArgs {
    /// Every key that has an encrypted form.
    #[arg(long, conflicts_with = "keys")]
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
    let held = crate::private_files::read_held(file).map_err(Failure::new)?;
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
        return Err(encrypted_refusal(client, &name.to_string())?);
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

/// Why the agent refused to hold `name` encrypted, as far as it can be established.
fn encrypted_refusal(client: &mut Client, name: &str) -> Result<Failure, Failure> {
    let state = AgentState::probe(client)?;
    Ok(Failure::new(if let Some(reason) = state.lock_reason() {
        format!("cannot add {name}: {reason}")
    } else {
        match state.can_prompt {
            Some(false) => format!(
                "cannot hold {name} encrypted: the agent has no way to ask for its passphrase at first use (no prompter); {HOW_TO_PROMPT}, or add it decrypted now without --encrypted"
            ),
            Some(true) => format!("the agent refused to hold {name} encrypted (its log says why)"),
            None => format!(
                "the agent refused to hold {name} encrypted (does it support deferred decryption? `agentry query` lists what it does)"
            ),
        }
    }))
}

/// `agentry reencrypt`.
pub(crate) fn reencrypt(args: &ReencryptArgs, target: &Target) -> Outcome {
    if !args.all && args.keys.is_empty() {
        return Err(Failure::Fatal(
            "reencrypt needs the keys to re-encrypt (key files or fingerprints), or --all"
                .to_owned(),
        ));
    }
    let mut client = connect(target)?;
    if args.all {
        let reply = client.request(&Request::Extension(Extension::ReencryptAll))?;
        return match ReencryptAllReply::decode(&reply) {
            Ok(ReencryptAllReply { left_decrypted }) => {
                eprintln!(
                    "Keys re-encrypted; {left_decrypted} without an encrypted form stay decrypted."
                );
                Ok(())
            }
            Err(_) => Err(refusal(
                &mut client,
                "re-encrypt",
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
            let failure = refusal(
                &mut client,
                &format!("re-encrypt {key}"),
                "the agent holds no encrypted form of it",
            );
            outcome = Err(failure.report_and_go_on()?);
        }
    }
    outcome
}
