//! Running real tools (OpenSSH, PuTTY, runuser) from tests. A missing tool fails the test with
//! a message saying what to install: interop tests never pass by skipping.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The full path of `tool`, or a panic naming the package that provides it.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    if tool.starts_with('/') {
        if Path::new(tool).exists() {
            return PathBuf::from(tool);
        }
    } else if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(tool);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("this test needs `{tool}`, which is not installed: install the `{package}` package (scripts install openssh-client openssh-server putty-tools)");
}

/// A command for `program` that finds no agent through the caller's environment
/// (`SSH_AUTH_SOCK` and `SSH_AGENT_PID` removed), with nothing on standard input.
pub fn command_without_agent(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSH_AGENT_PID")
        .stdin(Stdio::null());
    command
}

/// A command for `tool` talking to the agent at `socket`, with a clean environment for it.
pub fn agent_command(tool: &Path, socket: &Path) -> Command {
    let mut command = Command::new(tool);
    command
        .env("SSH_AUTH_SOCK", socket)
        .env_remove("SSH_AGENT_PID")
        .env_remove("DISPLAY")
        .env_remove("SSH_ASKPASS")
        .stdin(Stdio::null());
    command
}

/// Runs `command` and returns its output, panicking if it cannot start.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Runs `command` with `input` written to its standard input (then closed), and returns its
/// output. A program that exits without reading it all is not an error.
pub fn run_with_input(command: &mut Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    child.wait_with_output().expect("wait for the command")
}

/// Verifies with `ssh-keygen -Y verify` (namespace `file`) that `MESSAGE.sig`, as `ssh-keygen -Y
/// sign` wrote it, is `public`'s signature of `message`, listing that key in the allowed-signers
/// file `signers`. Returns ssh-keygen's output.
pub fn ssh_keygen_verify(keygen: &Path, public: &Path, message: &Path, signers: &Path) -> Output {
    let key = std::fs::read_to_string(public).expect("read the public key");
    std::fs::write(signers, format!("tester@agentry.test {key}")).expect("write allowed signers");
    let mut signature = message.as_os_str().to_owned();
    signature.push(".sig");
    run(Command::new(keygen)
        .args([
            "-Y",
            "verify",
            "-n",
            "file",
            "-I",
            "tester@agentry.test",
            "-f",
        ])
        .arg(signers)
        .arg("-s")
        .arg(signature)
        .stdin(std::fs::File::open(message).expect("open the message")))
}

/// `output`'s stdout and stderr, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// True when this process runs as root.
#[cfg(unix)]
pub fn running_as_root() -> bool {
    agentry_platform::unix::peer::our_uid() == 0
}
