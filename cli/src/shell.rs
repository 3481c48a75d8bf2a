//! The shell lines `start` and `stop` print, exactly as ssh-agent prints them, in Bourne (`-s`)
//! or C shell (`-c`) syntax; without a flag the syntax follows `$SHELL` like ssh-agent does.

use std::path::Path;

/// Which shell syntax to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Bourne,
    CShell,
}

impl Syntax {
    /// `-c` wins, then `-s`, then `$SHELL` ending in `csh` means C shell.
    pub(crate) fn choose(csh: bool, sh: bool) -> Self {
        if csh {
            return Self::CShell;
        }
        if sh {
            return Self::Bourne;
        }
        let shell = std::env::var("SHELL").unwrap_or_default();
        if shell.ends_with("csh") {
            Self::CShell
        } else {
            Self::Bourne
        }
    }

    /// The lines that export the agent's variables.
    pub(crate) fn started(self, socket: &Path, pid: u32) -> String {
        let socket = socket.display();
        match self {
            Self::Bourne => format!(
                "SSH_AUTH_SOCK={socket}; export SSH_AUTH_SOCK;\nSSH_AGENT_PID={pid}; export SSH_AGENT_PID;\necho Agent pid {pid};\n"
            ),
            Self::CShell => format!(
                "setenv SSH_AUTH_SOCK {socket};\nsetenv SSH_AGENT_PID {pid};\necho Agent pid {pid};\n"
            ),
        }
    }

    /// The lines that unset them after `stop`.
    pub(crate) fn stopped(self, pid: u32) -> String {
        match self {
            Self::Bourne => {
                format!(
                    "unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\necho Agent pid {pid} killed;\n"
                )
            }
            Self::CShell => format!(
                "unsetenv SSH_AUTH_SOCK;\nunsetenv SSH_AGENT_PID;\necho Agent pid {pid} killed;\n"
            ),
        }
    }
}
