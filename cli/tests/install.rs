//! `agentry install` and `agentry uninstall` through the binary. Linux: the systemd user units
//! written with `--no-enable` under a temporary `XDG_CONFIG_HOME` (contents, idempotence, a file
//! of the user's own left alone, uninstall removing exactly ours), and the message when no
//! systemd user manager answers (forced by pointing systemctl at a bus that does not exist),
//! with nothing written. Enabling through a real user manager is not exercised: CI containers
//! run none. `--bridge`: the units of `agentry bridge` naming the Windows agentry.exe.
//! Windows (under Wine): the `Run` value, read back with `reg query` (Wine's reg.exe).

use agentry_tests::tools::{command_without_agent, without_user_config};
use std::process::{Command, Output};

fn agentry() -> Command {
    let mut command = command_without_agent(env!("CARGO_BIN_EXE_agentry"));
    without_user_config(&mut command);
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run agentry")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(unix)]
mod systemd {
    use super::*;
    use std::path::Path;

    const MARKER: &str = "# Written by `agentry install`; `agentry uninstall` removes it.";

    fn in_config(config: &Path, args: &[&str]) -> Output {
        run(agentry().env("XDG_CONFIG_HOME", config).args(args))
    }

    #[test]
    fn units_are_written_for_this_binary_and_removed_exactly() {
        let config = tempfile::tempdir().unwrap();
        let units = config.path().join("systemd/user");
        let installed = in_config(config.path(), &["install", "--no-enable"]);
        assert!(installed.status.success(), "{}", text(&installed.stderr));
        let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_agentry")).unwrap();
        let service = std::fs::read_to_string(units.join("agentry.service")).unwrap();
        assert!(service.starts_with(MARKER), "{service}");
        assert!(
            service.contains(&format!(
                "\nExecStart=\"{}\" start --foreground\n",
                exe.display()
            )),
            "{service}"
        );
        assert!(service.contains("Requires=agentry.socket"), "{service}");
        let socket = std::fs::read_to_string(units.join("agentry.socket")).unwrap();
        assert!(socket.starts_with(MARKER), "{socket}");
        assert!(
            socket.contains("ListenStream=%t/agentry/agent.sock"),
            "{socket}"
        );
        assert!(socket.contains("SocketMode=0600"), "{socket}");

        // A second install changes nothing and says so.
        let again = in_config(config.path(), &["install", "--no-enable"]);
        assert!(again.status.success(), "{}", text(&again.stderr));
        assert_eq!(text(&again.stderr).matches("is up to date").count(), 2);
        assert_eq!(
            std::fs::read_to_string(units.join("agentry.service")).unwrap(),
            service
        );

        // Uninstall removes our two files (with no user manager it says it cannot stop them)
        // and leaves a file of the user's own in the same directory.
        std::fs::write(units.join("mine.service"), "[Service]\n").unwrap();
        let removed = in_config(config.path(), &["uninstall"]);
        assert!(removed.status.success(), "{}", text(&removed.stderr));
        assert!(!units.join("agentry.service").exists());
        assert!(!units.join("agentry.socket").exists());
        assert!(units.join("mine.service").exists());
        let twice = in_config(config.path(), &["uninstall"]);
        assert!(twice.status.success(), "{}", text(&twice.stderr));
        assert!(
            text(&twice.stderr).contains("nothing to uninstall"),
            "{}",
            text(&twice.stderr)
        );
    }

    #[test]
    fn bridge_units_name_the_windows_agentry_and_uninstall_removes_them() {
        let config = tempfile::tempdir().unwrap();
        let units = config.path().join("systemd/user");
        let windows = config.path().join("agentry.exe");
        // Without agentry.exe: the bridge's own error, nothing written.
        let missing = run(agentry()
            .env("XDG_CONFIG_HOME", config.path())
            .env("PATH", config.path())
            .env_remove("AGENTRY_WINDOWS_EXE")
            .args(["install", "--bridge", "--no-enable"]));
        assert_eq!(missing.status.code(), Some(1), "{}", text(&missing.stderr));
        assert!(text(&missing.stderr).contains("no agentry.exe found"));
        assert!(!units.exists());
        std::fs::write(&windows, b"MZ").unwrap();
        let installed = run(agentry()
            .env("XDG_CONFIG_HOME", config.path())
            .env("AGENTRY_WINDOWS_EXE", &windows)
            .env("WSL_DISTRO_NAME", "Debian")
            .args(["install", "--bridge", "--no-enable"]));
        assert!(installed.status.success(), "{}", text(&installed.stderr));
        let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_agentry")).unwrap();
        let service = std::fs::read_to_string(units.join("agentry-bridge.service")).unwrap();
        assert!(service.starts_with(MARKER), "{service}");
        assert!(
            service.contains(&format!(
                "\nExecStart=\"{}\" bridge --foreground -- \"{}\" \"relay\" \"--mux\"\n",
                exe.display(),
                windows.display()
            )),
            "{service}"
        );
        assert!(service.contains("\nEnvironment=\"WSL_DISTRO_NAME=Debian\"\n"));
        let socket = std::fs::read_to_string(units.join("agentry-bridge.socket")).unwrap();
        assert!(
            socket.contains("ListenStream=%t/agentry/bridge.sock"),
            "{socket}"
        );
        assert!(
            !units.join("agentry.service").exists(),
            "the agent's units too"
        );
        let removed = in_config(config.path(), &["uninstall"]);
        assert!(removed.status.success(), "{}", text(&removed.stderr));
        assert!(!units.join("agentry-bridge.service").exists());
        assert!(!units.join("agentry-bridge.socket").exists());
    }

    #[test]
    fn a_unit_of_the_users_own_is_neither_replaced_nor_removed() {
        let config = tempfile::tempdir().unwrap();
        let units = config.path().join("systemd/user");
        std::fs::create_dir_all(&units).unwrap();
        std::fs::write(
            units.join("agentry.service"),
            "[Service]\nExecStart=/mine\n",
        )
        .unwrap();
        let refused = in_config(config.path(), &["install", "--no-enable"]);
        assert_eq!(refused.status.code(), Some(1));
        assert!(
            text(&refused.stderr).contains("was not written by `agentry install`"),
            "{}",
            text(&refused.stderr)
        );
        assert!(!units.join("agentry.socket").exists(), "wrote one of two");
        let uninstalled = in_config(config.path(), &["uninstall"]);
        assert!(uninstalled.status.success());
        assert_eq!(
            std::fs::read_to_string(units.join("agentry.service")).unwrap(),
            "[Service]\nExecStart=/mine\n"
        );
    }

    #[test]
    fn without_a_user_manager_install_says_why_and_writes_nothing() {
        let config = tempfile::tempdir().unwrap();
        let nowhere = config.path().join("no-runtime-dir");
        let out = run(agentry()
            .env("XDG_CONFIG_HOME", config.path())
            .env("XDG_RUNTIME_DIR", &nowhere)
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", nowhere.join("bus").display()),
            )
            .arg("install"));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("cannot install: no systemd user manager")
                && stderr.contains("--no-enable"),
            "{stderr}"
        );
        assert!(!config.path().join("systemd").exists());
    }
}

#[cfg(windows)]
mod registry {
    use super::*;

    const RUN: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";

    /// `reg query RUN /v agentry`: the value's data, or `None` when there is none.
    fn reg_query() -> Option<String> {
        let out = Command::new("reg")
            .args(["query", RUN, "/v", "agentry"])
            .output()
            .expect("run reg.exe");
        if !out.status.success() {
            return None;
        }
        let stdout = text(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("agentry"))
            .unwrap_or_else(|| panic!("no agentry line in {stdout}"));
        Some(
            line.split("REG_SZ")
                .nth(1)
                .expect("a REG_SZ value")
                .trim()
                .to_owned(),
        )
    }

    /// Deletes the value when the test ends, however it ends.
    struct Cleanup;
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("reg")
                .args(["delete", RUN, "/v", "agentry", "/f"])
                .output();
        }
    }

    #[test]
    fn install_writes_the_run_value_and_uninstall_deletes_it() {
        let _cleanup = Cleanup;
        let _ = run(agentry().arg("uninstall"));
        assert_eq!(reg_query(), None);
        let installed = run(agentry().arg("install"));
        assert!(installed.status.success(), "{}", text(&installed.stderr));
        // `"DIR\agentryw.exe" start`, DIR the directory agentry.exe runs from.
        let value = reg_query().expect("the Run value after install");
        let program = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix("\" start"))
            .unwrap_or_else(|| panic!("not \"PROGRAM\" start: {value}"));
        let program = std::path::Path::new(program);
        assert!(program.is_file(), "{value}");
        assert_eq!(program.file_name().unwrap(), "agentryw.exe", "{value}");
        assert_eq!(
            std::fs::canonicalize(program.parent().unwrap()).unwrap(),
            std::fs::canonicalize(
                std::path::Path::new(env!("CARGO_BIN_EXE_agentry"))
                    .parent()
                    .unwrap()
            )
            .unwrap()
        );
        let again = run(agentry().arg("install"));
        assert!(
            text(&again.stderr).contains("is up to date"),
            "{}",
            text(&again.stderr)
        );
        let removed = run(agentry().arg("uninstall"));
        assert!(removed.status.success(), "{}", text(&removed.stderr));
        assert_eq!(reg_query(), None);
        let twice = run(agentry().arg("uninstall"));
        assert!(twice.status.success());
        assert!(text(&twice.stderr).contains("nothing to uninstall"));
    }
}
