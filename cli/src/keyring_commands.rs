//! `agentry keyring import|list|remove|forget`, and the keyring halves of `agentry add`: keys
//! added by name (`--keyring NAME`) and passphrases kept for `--remember`. The storage itself is
//! `agentry_platform::keyring`; this file is the command line around it.

use crate::{private_files, public_files};
use crate::{Failure, Outcome};
use agentry_core::keys::PrivateKey as AgentKey;
use agentry_platform::keyring::{KeyringError, KeyringStore};
use clap::Subcommand;
use ssh_key::HashAlg;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub(crate) enum KeyringCommand {
    /// Store a private key file (OpenSSH, PPK, PEM) in the OS keyring.
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
/// read (`private_files::read_private_key`).
fn read_key(path: &Path) -> Result<(AgentKey, String), Failure> {
    private_files::read_private_key(path).map_err(Failure::new)
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
                crate::report(&e.to_string());
                outcome = Err(Failure::Reported);
            }
        }
    }
    outcome
}

fn forget(store: &KeyringStore, file: &Path) -> Outcome {
    let public = public_files::read_public_key(file).map_err(Failure::new)?;
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

/// Reads a private key file for `agentry add --remember`: an encrypted file is decrypted with
/// the passphrase remembered for its key if there is one and it works, else with one asked for,
/// which is then remembered (by the key's SHA-256 fingerprint, which is what the agent looks up
/// when a key held encrypted is first used).
pub(crate) fn read_remembering(path: &Path) -> Result<(AgentKey, String), Failure> {
    let shown = path.display();
    let keyfile = private_files::open(path).map_err(Failure::new)?;
    if !keyfile.is_encrypted() {
        eprintln!("{shown} is not encrypted: no passphrase to remember");
        let loaded = private_files::decrypt(&keyfile, path, None).map_err(Failure::new)?;
        return Ok((loaded.key, loaded.comment));
    }
    let fingerprint = match keyfile.public_key() {
        Some(public) => public.fingerprint(HashAlg::Sha256).to_string(),
        None => public_files::read_public_key(path)
            .map_err(Failure::new)?
            .key_data()
            .fingerprint(HashAlg::Sha256)
            .to_string(),
    };
    let store = KeyringStore::os();
    let remembered = store.recall_passphrase(&fingerprint).unwrap_or_else(|e| {
        crate::report(&e.to_string());
        None
    });
    let had_one = remembered.is_some();
    let loaded = private_files::decrypt(&keyfile, path, remembered).map_err(Failure::new)?;
    if loaded.from_first {
        eprintln!("Passphrase for {shown} read from the keyring");
    } else {
        if had_one {
            eprintln!("agentry: the passphrase remembered for {shown} no longer works");
        }
        if let Some(passphrase) = &loaded.passphrase {
            match store.remember_passphrase(&fingerprint, passphrase) {
                Ok(()) => eprintln!("Passphrase for {shown} remembered in the keyring"),
                Err(e) => eprintln!("agentry: passphrase not remembered: {e}"),
            }
        }
    }
    Ok((loaded.key, loaded.comment))
}
