//! Reading passphrases as ssh-add does: through `SSH_ASKPASS` when OpenSSH's rules pick it (no
//! terminal and a display, or `SSH_ASKPASS_REQUIRE=force`; Unix), else from the terminal without
//! echo (`rpassword`), else one line from standard input, so scripts and tests can pipe it in.

use std::io::{BufRead, IsTerminal};
use zeroize::Zeroizing;

/// Asks for a passphrase with `prompt`.
pub(crate) fn read_passphrase(prompt: &str) -> Result<Zeroizing<String>, String> {
    #[cfg(unix)]
    {
        use agentry_platform::unix::askpass;
        if let Some(program) = askpass::program_from_env(std::io::stdin().is_terminal()) {
            return askpass::ask_passphrase(&program, prompt.trim_end())
                .map_err(|e| format!("cannot run askpass {}: {e}", program.display()))?
                .ok_or_else(|| "passphrase prompt cancelled".to_owned());
        }
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| format!("cannot read passphrase: {e}"));
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read passphrase from standard input: {e}"))?;
    let trimmed = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(trimmed);
    Ok(line)
}
