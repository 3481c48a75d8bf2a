//! Process hardening seen from outside, on Linux: the agent turns off core dumps
//! (`RLIMIT_CORE` 0) and marks itself non-dumpable (`PR_SET_DUMPABLE` 0), so other processes of
//! the same user cannot read its memory through /proc or ptrace. The kernel shows the second
//! only through ownership: a non-dumpable process's /proc files belong to root. So the agent
//! runs as `nobody` here (via `runuser`, the test runs as root), and its /proc/PID/environ must
//! belong to root, not to nobody.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};

#[test]
fn agent_cannot_dump_core_and_is_not_dumpable() {
    assert!(
        agentry_tests::tools::running_as_root(),
        "this test switches to user nobody and must run as root"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A copy nobody can run, wherever the build directory is.
    let binary = dir.path().join("agentry");
    std::fs::copy(env!("CARGO_BIN_EXE_agentry"), &binary).unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let chowned = Command::new("chown")
        .args(["nobody"])
        .arg(&run_dir)
        .status()
        .expect("run chown");
    assert!(chowned.success(), "chown nobody {}", run_dir.display());
    let socket = run_dir.join("agent.sock");

    let mut runuser = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&binary)
        .args(["start", "-D", "-a"])
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runuser (util-linux) must be installed");
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
            status.lines().any(|l| l.starts_with("Uid:\t65534\t")),
            "the agent is not running as nobody:\n{status}"
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
