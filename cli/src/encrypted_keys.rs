//! Keys the agent keeps encrypted until their first use: `agentry add --encrypted` sends the
//! key file itself (PuTTY's `add-ppk` for PPK files, so Pageant accepts them too; agentry's
//! `add-key-file@agentry` for OpenSSH and PEM files), `agentry reencrypt` drops decrypted copies
//! again, and `agentry list` marks such keys the way Pageant does.

use crate::agent_state::{refusal, AgentState, HOW_TO_PROMPT};
use crate::client::{connect, Client, Target};
use crate::key_args::resolve_blobs;
use crate::key_bundle::{Form, KeyBundle, OverProtocol, Piece};
use crate::{Failure, Outcome};
use agentry_core::proto::{Constraint, Extension, ReencryptAllReply, Request, Response};
use clap::Args;
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
    let shown = held.comment.clone();
    let certificate = held.certificate(file).unwrap_or_else(|problem| {
        crate::report(&problem);
        None
    });
    let bundle = KeyBundle {
        comment: shown.clone().into_bytes(),
        form: Form::Encrypted(Box::new(held)),
        certificate,
    };
    // As ssh-add adds FILE-cert.pub with its key: the same file, listed under the certificate
    // (agentry's extension, for PPK files too); the agent decrypts both with one passphrase.
    let added = bundle.add_to(
        &mut OverProtocol(client),
        constraints,
        |piece| match piece {
            Piece::Key => eprintln!("Identity added, encrypted until first use: {name} ({shown})"),
            Piece::Certificate(path, cert) => eprintln!(
                "Certificate added, encrypted until first use: {} ({})",
                path.display(),
                cert.key_id()
            ),
        },
    );
    match added {
        Ok(()) => {}
        Err((None, Failure::Refused)) => return Err(encrypted_refusal(client, &name.to_string())?),
        Err((Some(path), Failure::Refused)) => {
            return Err(Failure::new(format!(
                "the agent refused the certificate {} for {name}",
                path.display()
            )))
        }
        Err((_, other)) => return Err(other),
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
