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

/// Environment that points agentry's configuration and log directories (`XDG_CONFIG_HOME`,
/// `XDG_STATE_HOME` and `HOME` on Unix, `APPDATA` and `LOCALAPPDATA` on Windows) at a directory
/// that does not exist and empties `AGENTRY_CONFIG`, so an agentry started with it reads no
/// configuration, `known_hosts` or key file of the user running the tests, and a background
/// agent writes no log file (its log directory's base does not exist). For `Command::envs`.
pub fn no_user_config() -> Vec<(&'static str, std::ffi::OsString)> {
    let nowhere = std::env::temp_dir()
        .join(format!(
            "agentry-tests-no-config-{}-never-created",
            std::process::id()
        ))
        .into_os_string();
    let mut vars = vec![("AGENTRY_CONFIG", std::ffi::OsString::new())];
    if cfg!(windows) {
        vars.push(("APPDATA", nowhere.clone()));
        vars.push(("LOCALAPPDATA", nowhere));
    } else {
        vars.push(("XDG_CONFIG_HOME", nowhere.clone()));
        vars.push(("XDG_STATE_HOME", nowhere.clone()));
        vars.push(("HOME", nowhere));
    }
    vars
}

/// `command` with [`no_user_config`]'s environment.
pub fn without_user_config(command: &mut Command) -> &mut Command {
    command.envs(no_user_config())
}

/// True when the tests run in CI (`CI` set, as GitHub's runners and `.ci/run` do): a test that
/// cannot do its work there fails instead of passing without testing.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
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

/// A command that runs `program` with `args` as user `nobody`, by `runuser` when this process is
/// root, else through passwordless `sudo -n runuser` (GitHub's runners: an unprivileged user with
/// sudo). sudo resets the environment: pass variables as `VAR=value` in `env`.
#[cfg(unix)]
pub fn as_nobody(env: &[(&str, &OsStr)], program: &Path, args: &[&OsStr]) -> Command {
    let runuser = require_tool("runuser", "util-linux");
    let mut command = if running_as_root() {
        Command::new(runuser)
    } else {
        let mut sudo = Command::new(require_tool("sudo", "sudo"));
        sudo.arg("-n").arg(runuser);
        sudo
    };
    command.args(["-u", "nobody", "--", "env"]);
    for (name, value) in env {
        let mut assignment = std::ffi::OsString::from(format!("{name}="));
        assignment.push(value);
        command.arg(assignment);
    }
    command.arg(program).args(args).stdin(Stdio::null());
    command
}

/// Asserts that `output` is `ssh` refused by the server for want of an accepted key: exit 255
/// and "Permission denied (publickey)", not any other failure (no sshd, a host key mismatch).
pub fn assert_publickey_refused(output: &Output, what: &str) {
    assert!(
        output.status.code() == Some(255)
            && String::from_utf8_lossy(&output.stderr).contains("Permission denied (publickey)"),
        "{what}: expected ssh to be refused with \"Permission denied (publickey)\": {}",
        describe(output)
    );
}

/// How many descriptors process `pid` has open. The agent is not dumpable, so its
/// `/proc/PID/fd` belongs to root: read it directly as root, else through `sudo -n` (GitHub's
/// runners: an unprivileged user with passwordless sudo).
#[cfg(target_os = "linux")]
pub fn open_descriptors(pid: u32) -> usize {
    let dir = format!("/proc/{pid}/fd");
    if running_as_root() {
        return std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .count();
    }
    let out = run(Command::new(require_tool("sudo", "sudo"))
        .args(["-n", "find", &dir, "-mindepth", "1", "-maxdepth", "1"])
        .stdin(Stdio::null()));
    assert!(
        out.status.success(),
        "sudo -n find {dir}: {}",
        describe(&out)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// True when this process runs as root.
#[cfg(unix)]
pub fn running_as_root() -> bool {
    agentry_platform::unix::peer::our_uid() == 0
}
