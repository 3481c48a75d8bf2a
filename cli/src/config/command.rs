//! `agentry config check` (is the file usable: its syntax, every value, and every key file it
//! names, read without decrypting; every error in line order, with the warnings `agentry start`
//! would print here, such as keys that need a prompt the agent would not have) and `agentry config path` (which file is in use).

use super::key_entries::render_all;
use super::key_entries::start_can_prompt;
use super::{check_keys, load, locate};
use crate::{Failure, Outcome};
use clap::Subcommand;
use std::path::Path;

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigArgs {
    /// Check the configuration file and the key files it names (nothing is decrypted).
    Check,
    /// Print the path of the configuration file in use.
    Path,
}

pub(crate) fn config_command(args: &ConfigArgs, cli_path: Option<&Path>) -> Outcome {
    match args {
        ConfigArgs::Path => {
            let (path, _) = locate(cli_path)?;
            println!("{}", path.display());
            Ok(())
        }
        ConfigArgs::Check => check(cli_path),
    }
}

fn check(cli_path: Option<&Path>) -> Outcome {
    let config = load(cli_path)?;
    let Some(path) = config.path.clone() else {
        let (path, _) = locate(cli_path)?;
        println!("config OK: no file at {} (defaults)", path.display());
        return Ok(());
    };
    // Keys that need a prompt the agent would not have: what `agentry start` run in this
    // environment would print, as warnings (the agent started elsewhere may have one).
    let (errors, mut warnings, unpromptable) = check_keys(&config, start_can_prompt(&config));
    warnings.extend(unpromptable);
    for line in render_all(&path, &errors, &warnings) {
        eprintln!("{line}");
    }
    if !errors.is_empty() {
        let n = errors.len();
        return Err(Failure::new(format!(
            "{}: {n} error{} in the configuration",
            path.display(),
            if n == 1 { "" } else { "s" }
        )));
    }
    let n = config.keys.len();
    println!("config OK: {n} key{}", if n == 1 { "" } else { "s" });
    Ok(())
}
