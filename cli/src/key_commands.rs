//! The key commands, ssh-add style, against the agent `SSH_AUTH_SOCK` names: `list`, `add`,
//! `remove` and `remove-all` (`lock`, `unlock`, `query` and `status` are in `agent_commands`).
//! Messages go to stderr like ssh-add's; listings go to stdout. A refusal names its cause only
//! as far as `agent_state` establishes it.

use crate::agent_state::{refusal, AgentState, Lock, HOW_TO_PROMPT};
use crate::client::{connect, identities, Client, Target};
use crate::key_args::resolve_blobs;
use crate::key_bundle::{AddsKeys, Form, KeyBundle, OverProtocol, Piece};
use crate::lifetime::parse_lifetime;
use crate::private_files;
use crate::public_files::{self, FingerprintHash};
use crate::{Failure, Outcome};
use agentry_core::keys::PrivateKey as AgentKey;
use agentry_core::proto::{Constraint, Request, Response};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Show fingerprints (the default).
    #[arg(short = 'l', conflicts_with = "public_keys")]
    fingerprints: bool,
    /// Show whole public keys.
    #[arg(short = 'L')]
    public_keys: bool,
    /// Fingerprint hash.
    #[arg(short = 'E', value_enum, default_value = "sha256")]
    hash: FingerprintHash,
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Forget the keys after this long (seconds, or e.g. 1h30m).
    #[arg(short = 't', value_name = "LIFE", value_parser = parse_lifetime)]
    lifetime: Option<std::time::Duration>,
    /// Ask for confirmation before each use of the keys.
    #[arg(short = 'c')]
    confirm: bool,
    /// Use the keys only for this destination, as ssh-add -h: HOST, USER@HOST or FROM>TO
    /// (repeatable); host keys come from known_hosts.
    #[arg(short = 'h', value_name = "DEST", value_parser = crate::destinations::DestinationSpec::parse)]
    destinations: Vec<crate::destinations::DestinationSpec>,
    /// known_hosts file to find the destinations' host keys in, as ssh-add -H (repeatable;
    /// default: ~/.ssh/known_hosts(2) and the system's).
    #[arg(short = 'H', value_name = "FILE", requires = "destinations")]
    known_hosts: Vec<PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Keep encrypted keys encrypted in the agent until their first use, which asks for the
    /// passphrase (deferred decryption; Pageant's --encrypted).
    #[arg(long)]
    encrypted: bool,
    /// Keep the passphrase of each encrypted file in the OS keyring (by the key's fingerprint),
    /// and use a remembered one instead of asking (with --encrypted: at first use). With
    /// --pkcs11: keep the PIN for the provider's [[pkcs11]] entries (`pin = "keyring"`).
    #[arg(long)]
    remember: bool,
    /// Load a PKCS#11 provider library and add the keys on its tokens (asks for the PIN), as
    /// ssh-add -s. The agent loads only libraries its -P list allows.
    #[arg(long = "pkcs11", value_name = "PROVIDER", conflicts_with_all = ["encrypted", "keyring", "files"])]
    pkcs11: Option<String>,
    /// Add the key stored in the OS keyring under NAME (`agentry keyring import`); repeatable.
    #[arg(long = "keyring", value_name = "NAME")]
    keyring: Vec<String>,
    /// Private key files: OpenSSH, PuTTY PPK, PEM (PKCS#1, SEC1) or PKCS#8, encrypted or not;
    /// `-` reads one from standard input. None (and no --keyring): ~/.ssh/id_rsa, id_ecdsa and
    /// id_ed25519, those that exist, as ssh-add.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    /// Key files (their .pub is used when present) or fingerprints (SHA256:… or MD5:…).
    #[arg(required_unless_present = "pkcs11", value_name = "FILE|FINGERPRINT")]
    keys: Vec<String>,
    /// Remove every key a PKCS#11 provider added and unload it, as ssh-add -e.
    #[arg(long = "pkcs11", value_name = "PROVIDER")]
    pkcs11: Option<String>,
}

pub(crate) fn list(args: &ListArgs, target: &Target) -> Outcome {
    let mut client = connect(target)?;
    let ids = identities(&mut client)?;
    if ids.is_empty() {
        if AgentState::probe(&mut client)?.lock == Lock::Locked {
            return Err(Failure::new(
                "the agent is locked: it lists no identities until `agentry unlock`",
            ));
        }
        println!("The agent has no identities.");
        return Err(Failure::Reported);
    }
    let labels = if args.public_keys {
        Default::default()
    } else {
        crate::client::state_labels(&mut client)
    };
    for id in &ids {
        if args.public_keys {
            println!("{}", public_files::public_line(&id.key_blob, &id.comment));
        } else {
            let label = labels.get(&id.key_blob).copied().unwrap_or("");
            println!(
                "{}{label}",
                public_files::describe(&id.key_blob, &id.comment, args.hash)
            );
        }
    }
    Ok(())
}

impl AddArgs {
    /// `agentry add [--encrypted] FILES`, for Pageant's command line.
    pub(crate) fn files(files: Vec<PathBuf>, encrypted: bool) -> Self {
        Self {
            lifetime: None,
            confirm: false,
            destinations: Vec::new(),
            known_hosts: Vec::new(),
            help: None,
            encrypted,
            remember: false,
            keyring: Vec::new(),
            pkcs11: None,
            files,
        }
    }
}

pub(crate) fn add(args: &AddArgs, target: &Target) -> Outcome {
    if let Some(provider) = &args.pkcs11 {
        let constraints = constraints(args)?;
        return crate::pkcs11_commands::add_provider(
            &mut connect(target)?,
            provider,
            &constraints,
            args.remember,
        );
    }
    let files = if args.files.is_empty() && args.keyring.is_empty() {
        default_key_files()?
    } else {
        args.files.clone()
    };
    add_files(args, &files, &mut connect(target)?)
}

/// Adds `files` (and `args`' keyring keys) as `args` asks, through `client`; a key that fails is
/// reported and the rest are still added.
pub(crate) fn add_files(args: &AddArgs, files: &[PathBuf], client: &mut Client) -> Outcome {
    let constraints = constraints(args)?;
    let mut failed = None;
    // A key that fails is reported and the rest are still added; only a missing agent stops.
    let mut note = |result: Outcome| -> Outcome {
        if let Err(e) = result {
            failed = Some(e.report_and_go_on()?);
        }
        Ok(())
    };
    for name in &args.keyring {
        note(add_keyring(client, name, &constraints))?;
    }
    for file in files {
        note(add_one_file(client, file, args, &constraints))?;
    }
    if let Some(life) = args.lifetime.filter(|_| failed.is_none()) {
        eprintln!("Lifetime set to {} seconds", life.as_secs());
    }
    if args.confirm && failed.is_none() {
        eprintln!("The user must confirm each use of the key");
    }
    failed.map_or(Ok(()), Err)
}

/// The constraints `-t`, `-c` and `-h` ask for.
fn constraints(args: &AddArgs) -> Result<Vec<Constraint>, Failure> {
    let mut constraints = Vec::new();
    if let Some(life) = args.lifetime {
        constraints.push(Constraint::Lifetime(
            u32::try_from(life.as_secs()).unwrap_or(u32::MAX),
        ));
    }
    if args.confirm {
        constraints.push(Constraint::Confirm);
    }
    if !args.destinations.is_empty() {
        let files = if args.known_hosts.is_empty() {
            agentry_platform::known_hosts::default_files()
        } else {
            args.known_hosts.clone()
        };
        let known = agentry_platform::known_hosts::read_files(&files);
        let resolved = args
            .destinations
            .iter()
            .map(|d| d.resolve(&known))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::new)?;
        constraints.push(Constraint::RestrictDestination(resolved));
    }
    Ok(constraints)
}

/// The key files `ssh-add` adds when given none, those that exist (agentry reads no DSA,
/// XMSS or security-key files, so those are not looked for).
fn default_key_files() -> Result<Vec<PathBuf>, Failure> {
    const NAMES: [&str; 3] = ["id_rsa", "id_ecdsa", "id_ed25519"];
    let home = directories::BaseDirs::new()
        .map(|dirs| dirs.home_dir().join(".ssh"))
        .ok_or_else(|| Failure::new("no key files given, and no home directory to look in"))?;
    let found: Vec<PathBuf> = NAMES
        .iter()
        .map(|name| home.join(name))
        .filter(|path| path.exists())
        .collect();
    if found.is_empty() {
        return Err(Failure::new(format!(
            "no key files given, and none of {0}/id_rsa, {0}/id_ecdsa, {0}/id_ed25519 exist: give key files (`agentry add FILE`, `-` for standard input) or `--keyring NAME`",
            home.display()
        )));
    }
    Ok(found)
}

/// Adds one file: held encrypted until first use with `--encrypted` (its passphrase checked and
/// kept in the keyring first with `--remember`), else decrypted now.
fn add_one_file(
    client: &mut Client,
    file: &std::path::Path,
    args: &AddArgs,
    constraints: &[Constraint],
) -> Outcome {
    if file.as_os_str() == "-" {
        if args.encrypted || args.remember {
            return Err(Failure::new(
                "`-` (a key on standard input) cannot be held encrypted or remembered: give its file",
            ));
        }
        let (key, shown) = private_files::read_private_key_from_stdin().map_err(Failure::new)?;
        send_add(client, key, shown.as_bytes(), constraints)
            .map_err(|e| add_refusal(client, e, &format!("(stdin) ({shown})"), constraints))?;
        eprintln!("Identity added: (stdin) ({shown})");
        return Ok(());
    }
    if args.encrypted {
        if args.remember {
            crate::keyring_commands::read_remembering(file)?;
        }
        if crate::encrypted_keys::add_encrypted(client, file, constraints)? {
            return Ok(());
        }
    }
    add_file(client, file, args.remember, constraints)
}

/// Adds key `name` from the OS keyring.
fn add_keyring(client: &mut Client, name: &str, constraints: &[Constraint]) -> Outcome {
    let (key, comment) = crate::keyring_commands::load(name)?;
    send_add(client, key, comment.as_bytes(), constraints).map_err(|e| {
        add_refusal(
            client,
            e,
            &format!("keyring key {name} ({comment})"),
            constraints,
        )
    })?;
    eprintln!("Identity added: keyring {name} ({comment})");
    Ok(())
}

fn add_file(
    client: &mut Client,
    file: &std::path::Path,
    remember: bool,
    constraints: &[Constraint],
) -> Outcome {
    let name = file.display();
    let (plain, shown) = if remember {
        crate::keyring_commands::read_remembering(file)?
    } else {
        private_files::read_private_key(file).map_err(Failure::new)?
    };
    let bundle = KeyBundle {
        form: Form::Clear(plain),
        comment: shown.as_bytes().to_vec(),
        certificate: public_files::read_certificate_for(file),
    };
    let added = bundle.add_to(
        &mut OverProtocol(client),
        constraints,
        |piece| match piece {
            Piece::Key => eprintln!("Identity added: {name} ({shown})"),
            Piece::Certificate(path, cert) => {
                eprintln!("Certificate added: {} ({})", path.display(), cert.key_id());
            }
        },
    );
    added.map_err(|(certificate, e)| {
        let what = match certificate {
            None => format!("{name} ({shown})"),
            Some(path) => format!("certificate {}", path.display()),
        };
        add_refusal(client, e, &what, constraints)
    })
}

/// Keeps a transport failure's own message and exit code; says why the agent refused an add
/// of `what` when that can be established (locked, or `-c` without a prompter).
fn add_refusal(client: &mut Client, e: Failure, what: &str, constraints: &[Constraint]) -> Failure {
    if !matches!(e, Failure::Refused) {
        return e;
    }
    let state = match AgentState::probe(client) {
        Ok(state) => state,
        Err(e) => return e,
    };
    if let Some(reason) = state.lock_reason() {
        return Failure::new(format!("cannot add {what}: {reason}"));
    }
    if constraints.contains(&Constraint::Confirm) && state.can_prompt == Some(false) {
        return Failure::new(format!(
            "cannot add {what} with -c: the agent has no way to ask for confirmation (no \
             prompter); {HOW_TO_PROMPT}"
        ));
    }
    Failure::new(format!("the agent refused to add {what}"))
}

/// Sends one decrypted key (a key from standard input or the OS keyring, with no certificate).
fn send_add(
    client: &mut Client,
    key: AgentKey,
    comment: &[u8],
    constraints: &[Constraint],
) -> Outcome {
    OverProtocol(client).add_clear(key, comment, constraints)
}

pub(crate) fn remove(args: &RemoveArgs, target: &Target) -> Outcome {
    let mut client = connect(target)?;
    let mut outcome = Ok(());
    if let Some(provider) = &args.pkcs11 {
        if let Err(e) = crate::pkcs11_commands::remove_provider(&mut client, provider) {
            outcome = Err(e.report_and_go_on()?);
        }
    }
    for key in &args.keys {
        if let Err(e) = remove_one(&mut client, key) {
            outcome = Err(e.report_and_go_on()?);
        }
    }
    outcome
}

fn remove_one(client: &mut Client, key: &str) -> Outcome {
    let blobs = resolve_blobs(client, key)?;
    let mut removed = false;
    for blob in &blobs {
        removed |= matches!(
            client.request(&Request::RemoveIdentity {
                key_blob: blob.clone()
            })?,
            Response::Success
        );
    }
    if removed {
        eprintln!("Identity removed: {key}");
        return Ok(());
    }
    let held = identities(client)?;
    if held.iter().any(|id| blobs.contains(&id.key_blob)) {
        return Err(Failure::new(format!(
            "the agent refused to remove {key} (it holds it; a key restricted with -h can be removed only where it may be used)"
        )));
    }
    Err(refusal(
        client,
        &format!("remove {key}"),
        "the agent does not hold it",
    ))
}

pub(crate) fn remove_all(target: &Target) -> Outcome {
    let mut client = connect(target)?;
    match client.request(&Request::RemoveAllIdentities)? {
        Response::Success => {
            eprintln!("All identities removed.");
            Ok(())
        }
        _ => {
            let refused = format!("the agent at {} refused", client.name().display());
            Err(refusal(&mut client, "remove all identities", &refused))
        }
    }
}
