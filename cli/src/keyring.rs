//! `agentry keyring import|list|remove|forget`, and the keyring halves of `agentry add`: keys
//! added by name (`--keyring NAME`) and passphrases kept for `--remember`. The storage itself is
//! `agentry_platform::keyring`; this file is the command line around it.

use crate::keyfiles;
use crate::passphrase::read_passphrase;
use crate::{Failure, Outcome};
use agentry_core::keys::PrivateKey as AgentKey;
use agentry_platform::keyring::{KeyringError, KeyringStore};
use clap::Subcommand;
use ssh_key::HashAlg;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub(crate) enum KeyringCommand {
    /// Store an OpenSSH private key file in the OS keyring.
    Import {
        /// The private key file (asks for its passphrase if it is encrypted).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The name to store it under (default: the key's comment).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the keys agentry keeps in the OS keyring: name, type, fingerprint, comment.
    List,
    /// Remove a key from the OS keyring.
    Remove {
        /// The name it was imported under.
        name: String,
    },
    /// Forget the passphrase `agentry add --remember` kept for a key file.
    Forget {
        /// The key file (its public key identifies the passphrase).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

fn failure(e: KeyringError) -> Failure {
    Failure::new(e.to_string())
}

pub(crate) fn run(command: &KeyringCommand) -> Outcome {
    let store = KeyringStore::os();
    match command {
        KeyringCommand::Import { file, name } => import(&store, file, name.as_deref()),
        KeyringCommand::List => list(&store),
        KeyringCommand::Remove { name } => {
            store.remove(name).map_err(failure)?;
            eprintln!("Removed from the keyring: {name}");
            Ok(())
        }
        KeyringCommand::Forget { file } => forget(&store, file),
    }
}

/// A key file as the core's key and its comment: the one place the file reader's result is
/// converted (`keyfiles::read_private_key`).
fn read_key(path: &Path) -> Result<(AgentKey, String), Failure> {
    let key = keyfiles::read_private_key(path).map_err(Failure::new)?;
    let comment = String::from_utf8_lossy(key.comment().as_bytes()).into_owned();
    let plain = AgentKey::new(key.key_data().clone(), None)
        .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    Ok((plain, comment))
}

fn import(store: &KeyringStore, file: &Path, name: Option<&str>) -> Outcome {
    let (key, comment) = read_key(file)?;
    let name = match name {
        Some(name) => name,
        None if !comment.is_empty() => &comment,
        None => {
            return Err(Failure::new(format!(
                "{}: the key has no comment to name it by: give --name NAME",
                file.display()
            )))
        }
    };
    store.import(name, &key, &comment).map_err(failure)?;
    eprintln!(
        "Stored in the keyring: {name} ({} {})",
        key.algorithm_name(),
        key.fingerprint()
    );
    Ok(())
}

fn list(store: &KeyringStore) -> Outcome {
    let listed = store.list().map_err(failure)?;
    if listed.is_empty() {
        println!("The keyring holds no agentry keys.");
        return Ok(());
    }
    let mut outcome = Ok(());
    for listed in listed {
        let name = listed.name;
        match listed.key {
            Ok(stored) => println!(
                "{name}\t{}\t{}\t{}",
                stored.key.algorithm_name(),
                stored.key.fingerprint(),
                stored.comment
            ),
            Err(e) => {
                eprintln!("agentry: {e}");
                outcome = Err(Failure::new(""));
            }
        }
    }
    outcome
}

fn forget(store: &KeyringStore, file: &Path) -> Outcome {
    let public = keyfiles::read_public_key(file).map_err(Failure::new)?;
    let fingerprint = public.key_data().fingerprint(HashAlg::Sha256).to_string();
    if store.forget_passphrase(&fingerprint).map_err(failure)? {
        eprintln!("Passphrase forgotten: {} ({fingerprint})", file.display());
        Ok(())
    } else {
        Err(Failure::new(format!(
            "no passphrase remembered for {} ({fingerprint})",
            file.display()
        )))
    }
}

/// Key `name` from the keyring, with its comment, for `agentry add --keyring NAME`.
pub(crate) fn load(name: &str) -> Result<(AgentKey, String), Failure> {
    let stored = KeyringStore::os().load(name).map_err(failure)?;
    Ok((stored.key, stored.comment))
}

/// Reads an OpenSSH private key for `agentry add --remember`: an encrypted file is decrypted
/// with the passphrase remembered for its key if there is one and it works, else with one asked
/// for, which is then remembered (by the key's SHA-256 fingerprint). Until deferred decryption
/// lands this is the whole of `--remember`: the key is decrypted now and added as usual.
pub(crate) fn read_remembering(path: &Path) -> Result<ssh_key::PrivateKey, Failure> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| Failure::new(format!("{shown}: {e}")))?;
    let Ok(key) = ssh_key::PrivateKey::from_openssh(&text) else {
        // Not an OpenSSH key: let the usual reader explain.
        return keyfiles::read_private_key(path).map_err(Failure::new);
    };
    if !key.is_encrypted() {
        eprintln!("{shown} is not encrypted: no passphrase to remember");
        return Ok(key);
    }
    let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
    let store = KeyringStore::os();
    match store.recall_passphrase(&fingerprint) {
        Ok(Some(passphrase)) => {
            if let Ok(plain) = key.decrypt(passphrase.as_bytes()) {
                eprintln!("Passphrase for {shown} read from the keyring");
                return Ok(plain);
            }
            eprintln!("agentry: the passphrase remembered for {shown} no longer works");
        }
        Ok(None) => {}
        Err(e) => eprintln!("agentry: {e}"),
    }
    let passphrase =
        read_passphrase(&format!("Enter passphrase for {shown}: ")).map_err(Failure::new)?;
    let plain = key
        .decrypt(passphrase.as_bytes())
        .map_err(|_| Failure::new(format!("{shown}: bad passphrase")))?;
    match store.remember_passphrase(&fingerprint, &passphrase) {
        Ok(()) => eprintln!("Passphrase for {shown} remembered in the keyring"),
        Err(e) => eprintln!("agentry: passphrase not remembered: {e}"),
    }
    Ok(plain)
}
