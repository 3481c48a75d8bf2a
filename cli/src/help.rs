//! The examples `--help` shows after the options: for `agentry` itself and for `start`, `add`
//! and `stop`, the commands a new user runs first. Each line is a command that works as shown.

/// Examples for `agentry --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  eval \"$(agentry start -s)\"        start the agent in the background, set SSH_AUTH_SOCK
  agentry add ~/.ssh/id_ed25519     add a key (asks its passphrase if it has one)
  agentry list                      list the agent's keys
  agentry lock                      lock the agent; `agentry unlock` unlocks it
  eval \"$(agentry stop -s)\"         stop the agent, unset its variables
  agentry config check              check config.toml and the key files it names";

/// Examples for `agentry start --help`.
#[cfg(unix)]
pub(crate) const START_EXAMPLES: &str = "\
Examples:
  eval \"$(agentry start -s)\"            in the background; sets SSH_AUTH_SOCK and SSH_AGENT_PID
  agentry start -D                      in the foreground, logging to the terminal
  agentry start -D --tty-prompts        ... and asking passphrases and confirmations there
  agentry start -a ~/.agentry/sock -s   at this socket (its directory must be yours, mode 0700)
  agentry start -t 1h -s                keys are forgotten an hour after they are added
  agentry start -- ssh host             serve while one command runs

Prompts (for `add -c` and `add --encrypted` keys) use SSH_ASKPASS when DISPLAY is set.";

#[cfg(windows)]
pub(crate) const START_EXAMPLES: &str = "\
Examples:
  agentry start                   in the background, on Pageant's pipe and window
  agentry start -D                in the foreground, logging to the console
  agentry start --openssh-pipe    also serve Windows OpenSSH's pipe";

/// Examples for `agentry stop --help`.
pub(crate) const STOP_EXAMPLES: &str = "\
Examples:
  eval \"$(agentry stop -s)\"    stop the agent SSH_AGENT_PID names and unset the variables
  agentry stop                 the same, printing nothing to evaluate (Windows)";

/// Examples for `agentry add --help`.
pub(crate) const ADD_EXAMPLES: &str = "\
Examples:
  agentry add                              ~/.ssh/id_rsa, id_ecdsa, id_ed25519 (those that exist)
  agentry add ~/.ssh/id_ed25519            decrypt now (asks the passphrase)
  agentry add --encrypted ~/.ssh/id_rsa    list now, ask the passphrase at first use
  agentry add -c -t 30m key                confirm each use, forget in 30 minutes
  agentry add -h github.com key            usable only to log in to github.com
  agentry add - < key                      a key on standard input
  agentry add --keyring work               the key imported as `work` into the OS keyring

-h is ssh-add's destination option; help is --help.";
