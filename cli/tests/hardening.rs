//! Process hardening seen from outside, on Linux: the agent turns off core dumps
//! (`RLIMIT_CORE` 0) and marks itself non-dumpable (`PR_SET_DUMPABLE` 0), so other processes of
//! the same user cannot read its memory through /proc or ptrace. The kernel shows the second
//! only through ownership: a non-dumpable process's /proc files belong to root. So the agent
//! runs as a user other than root (as `nobody` via `runuser` when the test runs as root, else as
//! the test's own user, as on GitHub's runners), and its /proc/PID/environ must belong to root,
//! not to that user.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};

#[test]
fn agent_cannot_dump_core_and_is_not_dumpable() {
    let as_root = agentry_tests::tools::running_as_root();
    // The user the agent runs as, never root (root owns a dumpable root process's files too).
    let (agent_uid, mut command) = if as_root {
        (65534, Command::new("runuser"))
    } else {
        let uid = agentry_platform::unix::peer::our_uid();
        (uid, Command::new(env!("CARGO_BIN_EXE_agentry")))
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    if as_root {
        // A copy nobody can run, wherever the build directory is.
        let binary = dir.path().join("agentry");
        std::fs::copy(env!("CARGO_BIN_EXE_agentry"), &binary).unwrap();
        let chowned = Command::new("chown")
            .args(["nobody"])
            .arg(&run_dir)
            .status()
            .expect("run chown");
        assert!(chowned.success(), "chown nobody {}", run_dir.display());
        command.args(["-u", "nobody", "--"]).arg(&binary);
    }
    let socket = run_dir.join("agent.sock");
    agentry_tests::tools::without_user_config(&mut command);

    let mut runuser = command
        .args(["start", "-D", "-a"])
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent (runuser, from util-linux, when root)");
    let mut lines = BufReader::new(runuser.stdout.take().unwrap()).lines();
    let pid: u32 = lines
        .find_map(|line| {
            line.ok()?
                .strip_prefix("SSH_AGENT_PID=")?
                .split(';')
                .next()?
                .parse()
                .ok()
        })
        .expect("the agent prints SSH_AGENT_PID");
    let proc_dir = format!("/proc/{pid}");
    let outcome = std::panic::catch_unwind(|| {
        wait_for_agent(&socket);
        let status = std::fs::read_to_string(format!("{proc_dir}/status")).unwrap();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with(&format!("Uid:\t{agent_uid}\t"))),
            "the agent is not running as uid {agent_uid}:\n{status}"
        );
        let limits = std::fs::read_to_string(format!("{proc_dir}/limits")).unwrap();
        let core = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .expect("a core limit line");
        assert_eq!(
            core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
            ["0", "0"],
            "{core}"
        );
        let owner = std::fs::metadata(format!("{proc_dir}/environ"))
            .unwrap()
            .uid();
        assert_eq!(
            owner, 0,
            "/proc/PID/environ belongs to uid {owner}: still dumpable"
        );
    });
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = runuser.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
