//! Reading passphrases as ssh-add does: through `SSH_ASKPASS` when OpenSSH's rules pick it (no
//! terminal and a display, or `SSH_ASKPASS_REQUIRE=force`; Unix), else from the terminal without
//! echo (`rpassword`), else one line from standard input, so scripts and tests can pipe it in.
//! When none of these can give an answer (no terminal, no usable askpass, standard input at its
//! end or already used for a key) the error says so and why, instead of acting as if an empty
//! passphrase had been typed.

use std::io::{BufRead, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use zeroize::Zeroizing;

/// Set once standard input has been read for something else (`agentry add -`).
static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

/// Records that standard input held a key, so it cannot also give a passphrase.
pub(crate) fn mark_stdin_taken() {
    STDIN_TAKEN.store(true, Ordering::Relaxed);
}

/// Asks for a passphrase with `prompt`. `Ok("")` is an empty answer; an error is a question
/// that could not be asked (or a failed askpass), in words that say why.
pub(crate) fn read_passphrase(prompt: &str) -> Result<Zeroizing<String>, String> {
    let terminal = std::io::stdin().is_terminal();
    #[cfg(unix)]
    {
        use agentry_platform::unix::askpass;
        if let Some(program) = askpass::program_from_env(terminal) {
            return askpass::ask_passphrase(&program, prompt.trim_end())
                .map_err(|e| {
                    format!(
                        "cannot run askpass {}: {}",
                        program.display(),
                        agentry_platform::small_file::plain_io_error(&e)
                    )
                })?
                .ok_or_else(|| "passphrase prompt cancelled".to_owned());
        }
    }
    if terminal {
        return rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| format!("cannot read passphrase: {e}"));
    }
    if STDIN_TAKEN.load(Ordering::Relaxed) {
        return Err(cannot_ask("standard input held the key"));
    }
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read passphrase from standard input: {e}"))?;
    if read == 0 {
        return Err(cannot_ask("standard input is empty"));
    }
    let trimmed = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(trimmed);
    Ok(line)
}

/// "cannot ask for a passphrase: no terminal, <why askpass is not used>, and <stdin>".
fn cannot_ask(stdin: &str) -> String {
    format!(
        "cannot ask for a passphrase: no terminal, {}, and {stdin}",
        askpass_unused()
    )
}

/// Why no askpass program was run (OpenSSH's rules, `agentry_platform::unix::askpass`).
#[cfg(unix)]
fn askpass_unused() -> &'static str {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let require = std::env::var("SSH_ASKPASS_REQUIRE").unwrap_or_default();
    if require == "never" {
        "SSH_ASKPASS_REQUIRE=never"
    } else if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
        if set("SSH_ASKPASS") {
            "SSH_ASKPASS is set but askpass is used only with DISPLAY or WAYLAND_DISPLAY (or SSH_ASKPASS_REQUIRE=force)"
        } else {
            "no askpass (SSH_ASKPASS is not set and there is no DISPLAY)"
        }
    } else {
        "no askpass program (SSH_ASKPASS is not set and /usr/bin/ssh-askpass does not exist)"
    }
}

#[cfg(not(unix))]
fn askpass_unused() -> &'static str {
    "askpass is not used on Windows"
}
