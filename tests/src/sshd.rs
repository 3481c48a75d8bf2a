//! A throwaway `sshd` on a loopback port for interop tests: temporary host key (or one given,
//! optionally with a host certificate), config, authorized keys and pid file; `UsePAM no` and
//! `StrictModes no` so it runs from a temp directory. Killed when dropped. The port is picked
//! free and released before sshd binds it: sshd is ready only once it logs that it listens on
//! that port, and one that exits first (the port taken meanwhile) is started again on another.

use crate::server::private_tempdir;
use crate::tools::{require_tool, run};
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd.
#[derive(Debug)]
pub struct TestSshd {
    child: Child,
    port: u16,
    host_key: PathBuf,
    dir: tempfile::TempDir,
}

/// What [`TestSshd::start_with`] starts sshd with.
#[derive(Debug, Default)]
pub struct SshdSetup {
    /// The authorized_keys file's contents (lines may carry options).
    pub authorized_keys: String,
    /// The host's private key file; a fresh Ed25519 key when `None`.
    pub host_key: Option<PathBuf>,
    /// A host certificate for that key, presented too.
    pub host_cert: Option<PathBuf>,
}

/// Makes an unencrypted Ed25519 key pair at `path` (and `path.pub`) with `comment`.
pub fn make_ed25519_key(path: &Path, comment: &str) {
    let keygen = require_tool("ssh-keygen", "openssh-client");
    let made = run(Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path));
    assert!(made.status.success(), "ssh-keygen for {}", path.display());
}

impl TestSshd {
    /// Starts sshd accepting the given public keys (OpenSSH `.pub` lines) for our user.
    pub fn start(authorized_keys: &[String]) -> Self {
        Self::start_with(SshdSetup {
            authorized_keys: authorized_keys.join(""),
            ..SshdSetup::default()
        })
    }

    /// Starts sshd as `setup` says.
    pub fn start_with(setup: SshdSetup) -> Self {
        let sshd = require_tool("/usr/sbin/sshd", "openssh-server");
        let mut dir = private_tempdir();
        let host_key = setup.host_key.unwrap_or_else(|| {
            let path = dir.path().join("host_ed25519");
            make_ed25519_key(&path, "agentry-test-host");
            path
        });
        let authorized = dir.path().join("authorized_keys");
        std::fs::write(&authorized, setup.authorized_keys).unwrap();
        if crate::tools::running_as_root() {
            // sshd's privilege separation directory.
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_port();
            let config = dir.path().join("sshd_config");
            let mut file = std::fs::File::create(&config).unwrap();
            write!(
                file,
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
                 UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\n",
                host_key.display(),
                dir.path().join("sshd.pid").display(),
                authorized.display()
            )
            .unwrap();
            if let Some(cert) = &setup.host_cert {
                writeln!(file, "HostCertificate {}", cert.display()).unwrap();
            }
            drop(file);
            let child = Command::new(&sshd)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("sshd.log")).unwrap())
                .spawn()
                .expect("start sshd");
            let mut server = Self {
                child,
                port,
                host_key: host_key.clone(),
                dir,
            };
            match server.wait_until_listening() {
                Ok(()) => return server,
                Err(log) if attempts < 5 => {
                    eprintln!("sshd exited before listening on port {port}, retrying: {log}");
                    dir = std::mem::replace(&mut server.dir, private_tempdir());
                }
                Err(log) => panic!("sshd exited before listening, {attempts} times: {log}"),
            }
        }
    }

    /// Waits until sshd logs that it listens on its port; `Err(log)` if it exits first.
    fn wait_until_listening(&mut self) -> Result<(), String> {
        let ready = format!("Server listening on 127.0.0.1 port {}.", self.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for sshd") {
                return Err(format!("{status}: {}", self.log()));
            }
            if self.log().contains(&ready) {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not start listening: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its host public key file.
    pub fn host_key_pub(&self) -> PathBuf {
        let mut path = self.host_key.clone().into_os_string();
        path.push(".pub");
        path.into()
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// A scratch directory that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().unwrap().port()
}

/// The user name tests log in as (ours).
pub fn current_user() -> String {
    let out = run(Command::new("id").arg("-un"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
