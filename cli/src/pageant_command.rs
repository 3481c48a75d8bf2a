//! Pageant's command line: `agentry [--encrypted] KEYFILE... [-c COMMAND [ARGS...]]`, for
//! shortcuts and scripts written for `pageant.exe`. When no agent answers, one is started in the
//! background (as `agentry start` starts it); then the key files are added to the agent that
//! answers, `--openssh-config FILE` writes the `IdentityAgent` line for it, `--keylist` opens
//! its key list window (Windows), and `-c` runs COMMAND with `SSH_AUTH_SOCK` naming it, waits and exits with its status. The rule that tells
//! a key file from a command: a first argument that is a command's name is that command; a key
//! file with such a name is given as a path (`.\list`, `./list`). Pageant's one-dash spellings
//! (`-encrypted`, `-keylist`, `-openssh-config`) are accepted before clap sees them.

use crate::client::{connect, Client, Target};
use crate::config::Config;
use crate::key_commands::{add_files, AddArgs};
use crate::{Failure, Outcome};
use clap::Args;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub(crate) struct PageantArgs {
    /// Pageant's command line: key files to add to the running agent, starting one in the
    /// background if none answers. A key file named like a command is given as a path (./list).
    #[arg(value_name = "KEYFILE")]
    keys: Vec<PathBuf>,
    /// With KEYFILEs: keep them encrypted in the agent until first use (Pageant's --encrypted).
    #[arg(long, alias = "no-decrypt", alias = "nodecrypt")]
    encrypted: bool,
    /// Write the OpenSSH `IdentityAgent` line for the agent to FILE (Pageant's --openssh-config).
    #[arg(long, value_name = "FILE")]
    openssh_config: Option<PathBuf>,
    /// Open the agent's key list window, starting an agent if none runs (Pageant's --keylist).
    #[cfg(windows)]
    #[arg(long)]
    keylist: bool,
    /// Then run COMMAND with ARGS (the rest of the line) with SSH_AUTH_SOCK set, and exit with
    /// its status (Pageant's -c).
    #[arg(
        short = 'c',
        value_name = "COMMAND [ARGS]",
        num_args = 1..,
        allow_hyphen_values = true
    )]
    run: Vec<OsString>,
}

impl PageantArgs {
    /// True when the command line is Pageant's (something to do without a command name).
    pub(crate) fn given(&self) -> bool {
        !self.keys.is_empty()
            || self.encrypted
            || self.openssh_config.is_some()
            || !self.run.is_empty()
    }
}

/// Pageant's one-dash long options, as its own parser takes them, in clap's spelling. Only
/// arguments before `-c` (the command's own) and before the first command name are rewritten.
pub(crate) fn with_pageant_spellings(args: Vec<OsString>) -> Vec<OsString> {
    const SPELLINGS: [(&str, &str); 8] = [
        ("-keylist", "--keylist"),
        ("-encrypted", "--encrypted"),
        ("-no-decrypt", "--encrypted"),
        ("-no_decrypt", "--encrypted"),
        ("-nodecrypt", "--encrypted"),
        ("-openssh-config", "--openssh-config"),
        ("-openssh_config", "--openssh-config"),
        ("--no_decrypt", "--encrypted"),
    ];
    let mut out = Vec::with_capacity(args.len());
    let mut rewriting = true;
    for (i, arg) in args.into_iter().enumerate() {
        if i > 0 && rewriting {
            if arg == "-c" || arg == "--" || crate::is_command_name(&arg) {
                rewriting = false;
            } else if let Some((_, clap)) = SPELLINGS.iter().find(|(one, _)| arg == *one) {
                out.push(OsString::from(clap));
                continue;
            }
        }
        out.push(arg);
    }
    out
}

/// Runs Pageant's command line.
pub(crate) fn run(args: &PageantArgs, config: Config, target: &Target) -> Outcome {
    if let Some(word) = args.keys.iter().find(|key| looks_like_a_command(key)) {
        return Err(Failure::Fatal(format!(
            "{} is neither a command nor a key file (`agentry --help` lists the commands)",
            word.display()
        )));
    }
    let (mut client, started) = match connect(target) {
        Ok(client) => (client, false),
        Err(e) if e.is_unreachable() => {
            let address = crate::daemon::start_default_in_background(&config)?;
            (Client::connect(Path::new(&address))?, true)
        }
        Err(e) => return Err(e.into()),
    };
    let address = client.name().to_owned();
    let added = if args.keys.is_empty() {
        Ok(())
    } else {
        add_files(
            &AddArgs::files(args.keys.clone(), args.encrypted),
            &args.keys,
            &mut client,
        )
    };
    drop(client);
    if let Some(file) = &args.openssh_config {
        write_openssh_config(file, &address)?;
    }
    #[cfg(windows)]
    if args.keylist {
        open_key_list(&address)?;
    }
    if args.run.is_empty() {
        if !started && !args.given() {
            eprintln!(
                "agentry: the agent at {} is already running",
                address.display()
            );
        }
        return added;
    }
    if let Err(e) = added {
        // As Pageant: a key that could not be added is reported, and the command still runs.
        e.report_and_go_on()?;
    }
    run_command(&args.run, &address)
}

/// A key argument that names no file and is a bare word (no directory, no extension) is more
/// likely a mistyped command than a key file: nothing is started or added for it.
fn looks_like_a_command(key: &Path) -> bool {
    !key.exists() && key.components().count() == 1 && key.extension().is_none()
}

/// Writes Pageant's `--openssh-config` file: `IdentityAgent "ADDRESS"` (on Windows with
/// slashes for backslashes, as Pageant writes it).
fn write_openssh_config(file: &Path, address: &Path) -> Outcome {
    let address = address.to_string_lossy();
    let line = if cfg!(windows) {
        format!("IdentityAgent \"{}\"\n", address.replace('\\', "/"))
    } else {
        format!("IdentityAgent \"{address}\"\n")
    };
    std::fs::write(file, line)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", file.display())))
}

/// Asks the agent serving `pipe` to open its key list window (desktop::OPEN_KEY_LIST_MESSAGE
/// posted to its tray window, which an agent makes before it reports that it serves).
#[cfg(windows)]
fn open_key_list(pipe: &Path) -> Outcome {
    use agentry_platform::windows::desktop::open_key_list_of_running_agent;
    let pipe = pipe.to_string_lossy();
    if open_key_list_of_running_agent(&pipe) {
        return Ok(());
    }
    Err(Failure::new(format!(
        "the agent at {pipe} has no tray window to open its key list from (started with \
         --no-tray, or not agentry)"
    )))
}

/// Runs `command` with `SSH_AUTH_SOCK` naming the agent, waits, and passes its status on.
fn run_command(command: &[OsString], address: &Path) -> Outcome {
    let program = Path::new(&command[0]).display().to_string();
    let status = std::process::Command::new(&command[0])
        .args(&command[1..])
        .env("SSH_AUTH_SOCK", address)
        .status()
        .map_err(|e| Failure::new(format!("cannot run {program}: {e}")))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::Exited(u8::try_from(code).unwrap_or(1))),
        None => Err(Failure::new(format!("{program} did not exit normally"))),
    }
}
