//! A chain of loopback sshd servers for agent-forwarding tests, after OpenSSH's
//! regress/agent-restrict.sh: hosts `host_a`, `host_b`, … each with its own host key (some with a
//! host certificate from a test CA), one ssh config naming them (`HostKeyAlias`, so known_hosts
//! uses the plain names), a known_hosts the test writes (`@cert-authority host_* CA` for the
//! certified ones), and a hop script that runs `ssh -A` from host to host and, at the end, lists
//! the keys the forwarded agent shows there. Also OpenSSH's own `ssh-agent`, for comparisons.

use crate::server::private_tempdir;
use crate::sshd::{current_user, make_ed25519_key, SshdSetup, TestSshd};
use crate::tools::{agent_command, require_tool, run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Printed by the hop script when the last host of the path is reached.
pub const CHAIN_END: &str = "agentry-chain-end";

/// Running sshd servers and the client files to reach them.
#[derive(Debug)]
pub struct SshChain {
    dir: tempfile::TempDir,
    servers: Vec<(String, TestSshd)>,
}

impl SshChain {
    /// Starts `host_NAME` for each of `plain` (known by key) and `certified` (known through a
    /// CA certificate whose only principal is `host_NAME`), each accepting `authorized` keys.
    pub fn start(plain: &[&str], certified: &[&str], authorized: &[String]) -> Self {
        let keygen = require_tool("ssh-keygen", "openssh-client");
        let dir = private_tempdir();
        let ca = dir.path().join("host_ca");
        make_ed25519_key(&ca, "agentry-test-host-ca");
        let mut known_hosts = String::new();
        let mut servers = Vec::new();
        for (name, is_cert) in plain
            .iter()
            .map(|n| (n, false))
            .chain(certified.iter().map(|n| (n, true)))
        {
            let host = format!("host_{name}");
            let key = dir.path().join(&host);
            make_ed25519_key(&key, &host);
            let host_cert = is_cert.then(|| {
                let signed = run(Command::new(&keygen)
                    .args(["-q", "-s"])
                    .arg(&ca)
                    .args(["-I", &host, "-n", &host, "-h"])
                    .arg(key.with_extension("pub")));
                assert!(signed.status.success(), "ssh-keygen -s for {host}");
                dir.path().join(format!("{host}-cert.pub"))
            });
            if !is_cert {
                known_hosts.push_str(&format!("{host} {}", read_pub(&key)));
            }
            let sshd = TestSshd::start_with(SshdSetup {
                authorized_keys: authorized.join(""),
                host_key: Some(key),
                host_cert,
            });
            servers.push((host, sshd));
        }
        known_hosts.push_str(&format!("@cert-authority host_* {}", read_pub(&ca)));
        std::fs::write(dir.path().join("known_hosts"), known_hosts).unwrap();
        let chain = Self { dir, servers };
        chain.write_client_files();
        chain
    }

    fn write_client_files(&self) {
        use std::os::unix::fs::PermissionsExt;
        let mut config = String::new();
        for (host, sshd) in &self.servers {
            config.push_str(&format!(
                "Host {host}\n  HostName 127.0.0.1\n  Port {}\n  HostKeyAlias {host}\n",
                sshd.port()
            ));
        }
        config.push_str(&format!(
            "Host *\n  User {}\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
             StrictHostKeyChecking yes\n  CheckHostIP no\n  BatchMode yes\n  ForwardAgent yes\n  \
             IdentityFile /dev/null\n  PreferredAuthentications publickey\n  LogLevel ERROR\n  \
             ConnectTimeout 20\n",
            current_user(),
            self.known_hosts().display()
        ));
        std::fs::write(self.config(), config).unwrap();
        let ssh = require_tool("ssh", "openssh-client");
        let ssh_add = require_tool("ssh-add", "openssh-client");
        let script = format!(
            "#!/bin/sh\n# hop.sh HOST... : ssh -A to the first host, which runs hop.sh with the rest.\n\
             if [ $# -eq 0 ]; then echo {CHAIN_END}; {} -L; exit 0; fi\n\
             next=$1; shift\nexec {} -F {} \"$next\" {} \"$@\"\n",
            ssh_add.display(),
            ssh.display(),
            self.config().display(),
            self.script().display()
        );
        std::fs::write(self.script(), script).unwrap();
        std::fs::set_permissions(self.script(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The known_hosts file every hop uses (for `ssh-add -H`).
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    fn script(&self) -> PathBuf {
        self.dir.path().join("hop.sh")
    }

    /// Runs the hop script through `path` (`["host_a", "host_b"]`) with the agent at `socket`.
    pub fn hop(&self, socket: &Path, path: &[&str]) -> Output {
        run(agent_command(&self.script(), socket)
            .env("HOME", self.dir.path())
            .args(path))
    }

    /// Runs `command` on `host` through `ssh -A` (the chain's config) with the agent at
    /// `socket`: a client on the far side talks to the forwarded agent.
    pub fn run_on(&self, socket: &Path, host: &str, command: &str) -> Output {
        let ssh = require_tool("ssh", "openssh-client");
        run(agent_command(&ssh, socket)
            .env("HOME", self.dir.path())
            .arg("-F")
            .arg(self.config())
            .arg(host)
            .arg(command))
    }

    /// Every server's log, for failure messages.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .map(|(host, sshd)| format!("--- {host} sshd log:\n{}", sshd.log()))
            .collect()
    }
}

fn read_pub(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub")).unwrap()
}

/// OpenSSH's `ssh-agent -D` on a private socket; killed when dropped.
#[derive(Debug)]
pub struct OpenSshAgent {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl OpenSshAgent {
    /// Starts one and waits for its socket.
    pub fn start() -> Self {
        let agent = require_tool("ssh-agent", "openssh-client");
        let dir = private_tempdir();
        let socket = dir.path().join("agent.sock");
        let child = Command::new(agent)
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            socket,
            _dir: dir,
        }
    }

    /// Its socket (for `SSH_AUTH_SOCK`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for OpenSshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
