//! Frame I/O, once: reading and writing `uint32 length || body` frames on a stream, for the
//! blocking clients (agentry's own, the tests' transports, the bench) and, async, for the serve
//! loop. The length rules are the core's (`frame::body_len_from_header`: 1 to 256 KiB); an
//! unacceptable length is `InvalidData`. Bodies are read into zeroizing buffers and frames are
//! written from one, since either may hold key material. Mux frames (`agentry bridge` ↔
//! `agentry relay --mux`) are read the same way, under the mux's length rules
//! ([`agentry_core::mux`]); a frame the codec refuses is `InvalidData` with its reason.

use agentry_core::frame::{body_len_from_header, encode_frame, HEADER_LEN};
use agentry_core::mux::{mux_len_from_header, MuxFrame, MUX_HEADER_LEN};
use std::io::{self, Read, Write};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

/// Reads one frame's body; `None` when the stream ends before the frame begins.
pub fn read_frame(stream: &mut impl Read) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match stream.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut body = Zeroizing::new(vec![0u8; body_len(header)?]);
    stream.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Writes `body` as one frame and flushes.
pub fn write_frame(stream: &mut impl Write, body: &[u8]) -> io::Result<()> {
    stream.write_all(&Zeroizing::new(encode_frame(body)))?;
    stream.flush()
}

/// Reads one mux frame; `None` when the stream ends before the frame begins.
pub fn read_mux_frame(stream: &mut impl Read) -> io::Result<Option<MuxFrame>> {
    let mut header = [0u8; MUX_HEADER_LEN];
    let mut got = 0;
    while got < MUX_HEADER_LEN {
        match stream.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut body = Zeroizing::new(vec![0u8; mux_len(header)?]);
    stream.read_exact(&mut body)?;
    MuxFrame::decode(&body).map(Some).map_err(invalid)
}

/// Reads one mux frame, async; `None` when the stream ends before the frame begins.
pub async fn read_mux_frame_async<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> io::Result<Option<MuxFrame>> {
    let mut header = [0u8; MUX_HEADER_LEN];
    let mut got = 0;
    while got < MUX_HEADER_LEN {
        match stream.read(&mut header[got..]).await? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let mut body = Zeroizing::new(vec![0u8; mux_len(header)?]);
    stream.read_exact(&mut body).await?;
    MuxFrame::decode(&body).map(Some).map_err(invalid)
}

fn mux_len(header: [u8; MUX_HEADER_LEN]) -> io::Result<usize> {
    mux_len_from_header(u32::from_be_bytes(header)).map_err(invalid)
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Reads the rest of the frame whose first `got` header bytes are already in `header` (the serve
/// loop reads the first byte on its own, to tell an idle connection from a busy one).
pub(crate) async fn read_rest_of_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    header: &mut [u8; HEADER_LEN],
    got: usize,
) -> io::Result<Zeroizing<Vec<u8>>> {
    stream.read_exact(&mut header[got..]).await?;
    let mut body = Zeroizing::new(vec![0u8; body_len(*header)?]);
    stream.read_exact(&mut body).await?;
    Ok(body)
}

/// Writes `body` as one frame and flushes, async.
pub(crate) async fn write_frame_async<S: AsyncWrite + Unpin>(
    stream: &mut S,
    body: &[u8],
) -> io::Result<()> {
    stream
        .write_all(&Zeroizing::new(encode_frame(body)))
        .await?;
    stream.flush().await
}

fn body_len(header: [u8; HEADER_LEN]) -> io::Result<usize> {
    body_len_from_header(u32::from_be_bytes(header))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_lengths_are_invalid_data() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"body").unwrap();
        assert_eq!(wire, [0, 0, 0, 4, b'b', b'o', b'd', b'y']);
        let mut r = &wire[..];
        assert_eq!(
            read_frame(&mut r).unwrap().as_deref().map(Vec::as_slice),
            Some(&b"body"[..])
        );
        assert!(read_frame(&mut r).unwrap().is_none(), "clean end of stream");
        let err = read_frame(&mut &[0u8, 0, 0, 0][..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = read_frame(&mut &[0u8, 0][..]).unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::UnexpectedEof,
            "a header cut short"
        );
    }
}
