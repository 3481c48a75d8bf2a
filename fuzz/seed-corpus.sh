#!/usr/bin/env bash
# Builds the seed corpora in fuzz/corpus/ (gitignored) from the captured ssh-add requests in
# tests/fixtures/requests/. Safe to re-run: it only adds files.
#   frame_decoder: each body as captured, each body framed (uint32 length || body), and all
#                  framed bodies concatenated (one connection carrying every request).
#   agent_handler: a mode byte (0: plain connection, 1: bound for forwarding first), then each
#                  body behind a uint16 length prefix, plus multi-message sequences (the
#                  extension and add paths among them), each in both modes.
#   key_file:      every key file in tests/fixtures/keyfiles/ (PPK files, …).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
req="$here/../tests/fixtures/requests"
fd="$here/corpus/frame_decoder"
ah="$here/corpus/agent_handler"
kf="$here/corpus/key_file"
mkdir -p "$fd" "$ah" "$kf"

be() { # be BYTES VALUE: VALUE as a BYTES-byte big-endian integer
    local n=$1 v=$2 out="" i
    for ((i = n - 1; i >= 0; i--)); do out+=$(printf '\\x%02x' $(((v >> (8 * i)) & 255))); done
    printf "$out"
}
framed32() { be 4 "$(stat -c %s "$1")"; cat "$1"; }
framed16() { be 2 "$(stat -c %s "$1")"; cat "$1"; }

# both NAME: the agent_handler seed on stdin written as NAME in mode 0 and as NAME-fwd in mode 1.
both() {
    local body
    body=$(mktemp)
    cat >"$body"
    { printf '\x00'; cat "$body"; } >"$ah/$1"
    { printf '\x01'; cat "$body"; } >"$ah/$1-fwd"
    rm -f "$body"
}
for f in "$req"/*.bin; do
    name="$(basename "$f" .bin)"
    cp "$f" "$fd/raw-$name"
    framed32 "$f" >"$fd/framed-$name"
    framed16 "$f" | both "$name"
done
for f in "$req"/*.bin; do framed32 "$f"; done >"$fd/all-framed"

seq16() { for n in "$@"; do framed16 "$req/$n.bin"; done; }
seq16 ssh-add-l ssh-add-T-ed25519 ssh-add-T-ecdsa-p256 ssh-add-T-rsa-2048 | both seq-list-sign
seq16 ssh-add-x ssh-add-l ssh-add-T-ed25519 ssh-add-X ssh-add-X ssh-add-l | both seq-lock-unlock
seq16 ssh-session-bind ssh-add-h-ed25519 ssh-add-T-ed25519 ssh-add-d-ed25519 ssh-add-D | both seq-bind-dest
seq16 ssh-add-rsa-2048-cert ssh-add-ed25519-cert ssh-add-t60-ed25519 ssh-add-l ssh-add-D-rsa1 ssh-add-D | both seq-add-remove

# Extension bodies: 27, string name, fields inline.
str32() { be 4 "$(printf '%s' "$1" | wc -c)"; printf '%s' "$1"; }
file32() { be 4 "$(stat -c %s "$1")"; cat "$1"; }
ext() { printf '\x1b'; str32 "$1"; }
keys="$here/../tests/fixtures/keys"
body16() { # body16 < BODY: the body behind its uint16 length
    local b
    b=$(mktemp)
    cat >"$b"
    framed16 "$b"
    rm -f "$b"
}
{ ext list-extended@putty.projects.tartarus.org; } | body16 >"$ah/.list-extended"
{ ext reencrypt-all@putty.projects.tartarus.org; } | body16 >"$ah/.reencrypt-all"
{ ext add-ppk@putty.projects.tartarus.org; file32 "$keys/ppk/ed25519-encrypted.ppk"; } | body16 >"$ah/.add-ppk"
{ ext add-key-file@agentry; file32 "$keys/ed25519-encrypted"; be 4 0; str32 again; } | body16 >"$ah/.add-key-file"
{ ext add-key-file@agentry; file32 "$keys/../keyfiles/openssh-ed25519-aes256ctr"; be 4 0; be 4 0; } | body16 >"$ah/.add-key-file-held"
{ ext add-key-file@agentry; file32 "$keys/ecdsa-p256"; be 4 0; be 4 0; printf '\x01'; } | body16 >"$ah/.add-key-file-c"
{ ext reencrypt@putty.projects.tartarus.org; file32 <(base64 -d <<<"$(cut -d' ' -f2 "$keys/../keyfiles/openssh-ed25519-aes256ctr.pub")"); } | body16 >"$ah/.reencrypt"
cat "$ah/.list-extended" "$ah/.add-ppk" "$ah/.add-key-file" "$ah/.add-key-file-held" "$ah/.add-key-file-c" \
    "$ah/.reencrypt" "$ah/.reencrypt-all" "$ah/.list-extended" | both seq-extensions
for e in list-extended reencrypt-all add-ppk add-key-file add-key-file-held add-key-file-c reencrypt; do
    both "ext-$e" <"$ah/.$e"
    rm -f "$ah/.$e"
done
find "$here/../tests/fixtures/keyfiles" -type f ! -name '*.sh' ! -name '*.pub' ! -name VERSION |
    while read -r f; do cp "$f" "$kf/$(basename "$(dirname "$f")")-$(basename "$f")"; done
echo "frame_decoder: $(ls "$fd" | wc -l) files; agent_handler: $(ls "$ah" | wc -l) files;" \
    "key_file: $(ls "$kf" | wc -l) files"
