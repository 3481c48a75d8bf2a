//! Shell completions (`agentry completions SHELL`) and the man page (`agentry man-page`, hidden;
//! `scripts/man-page` writes it to a file), generated from the same clap definitions as the
//! parser, so they list exactly the commands and options the binary accepts.

use crate::{Failure, Outcome};
use clap::CommandFactory;
use std::io::Write;

/// Prints the completion script for `shell`. It is built in memory first: the generator
/// panics on a write error (a closed pipe), the buffer cannot fail.
pub(crate) fn completions(shell: clap_complete::Shell) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::Cli::command(), "agentry", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(format!("cannot write the completions: {e}")))
}

/// Prints the man page (roff).
pub(crate) fn man_page() -> Outcome {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(crate::Cli::command())
        .render(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(format!("cannot write the man page: {e}")))
}
