//! `agentry relay` (Windows): the Windows end of a bridge from WSL, socat or any program that
//! speaks the agent protocol on standard input and output. Each frame read from stdin is sent
//! to the agent's named pipe (the user's Pageant pipe, `--pipe NAME`, or with `--openssh`
//! Windows OpenSSH's) and its reply written to stdout, one request at a time, as the protocol
//! is request and reply. It is a drop-in for npiperelay in raw mode: `socat
//! UNIX-LISTEN:$SOCK,fork EXEC:"agentry.exe relay"`. It ends when stdin ends (exit 0), when the
//! pipe closes, or on a frame agentry's framing refuses (exit 1, with the reason). With
//! `--mux` it speaks the mux framing to `agentry bridge` instead ([`mux`]).

mod mux;

use crate::{Failure, Outcome};
use agentry_platform::frame_io::{read_frame, write_frame};
use agentry_platform::windows::client::connect_pipe;
use agentry_platform::windows::{pageant_pipe_name, OPENSSH_PIPE};
use clap::Args;
use std::io::Write;

#[derive(Debug, Args)]
pub(crate) struct RelayArgs {
    /// The agent's pipe (default: the user's Pageant pipe, where agentry listens).
    #[arg(long, value_name = "NAME", conflicts_with = "openssh")]
    pipe: Option<String>,
    /// Relay to Windows OpenSSH's pipe, \\.\pipe\openssh-ssh-agent.
    #[arg(long)]
    openssh: bool,
    /// Many connections over stdin/stdout, in the mux framing `agentry bridge` speaks (each
    /// its own pipe connection).
    #[arg(long)]
    mux: bool,
}

/// Relays frames between stdin/stdout and the pipe until stdin ends.
pub(crate) fn relay(args: &RelayArgs) -> Outcome {
    let name = match (&args.pipe, args.openssh) {
        (Some(pipe), _) => pipe.clone(),
        (None, true) => OPENSSH_PIPE.to_owned(),
        (None, false) => pageant_pipe_name()
            .map_err(|e| Failure::Fatal(format!("cannot compute Pageant's pipe name: {e}")))?,
    };
    if args.mux {
        return mux::relay_mux(&name);
    }
    let mut pipe = connect_pipe(&name)
        .map_err(|e| Failure::Fatal(format!("cannot connect to {name}: {e}")))?;
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    loop {
        let request = match read_frame(&mut input) {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(e) => return Err(Failure::new(format!("standard input: {e}"))),
        };
        write_frame(&mut pipe, &request).map_err(|e| Failure::new(format!("{name}: {e}")))?;
        let reply = read_frame(&mut pipe)
            .map_err(|e| Failure::new(format!("{name}: {e}")))?
            .ok_or_else(|| Failure::new(format!("{name}: the agent closed the connection")))?;
        write_frame(&mut output, &reply)
            .and_then(|()| output.flush())
            .map_err(|e| Failure::new(format!("standard output: {e}")))?;
    }
}
