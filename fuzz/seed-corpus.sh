#!/usr/bin/env bash
# Builds the seed corpora in fuzz/corpus/ (gitignored) from the captured ssh-add requests in
# tests/fixtures/requests/. Safe to re-run: it only adds files.
#   frame_decoder: each body as captured, each body framed (uint32 length || body), and all
#                  framed bodies concatenated (one connection carrying every request).
#   agent_handler: each body behind a uint16 length prefix, plus a few multi-message sequences.
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

for f in "$req"/*.bin; do
    name="$(basename "$f" .bin)"
    cp "$f" "$fd/raw-$name"
    framed32 "$f" >"$fd/framed-$name"
    framed16 "$f" >"$ah/$name"
done
for f in "$req"/*.bin; do framed32 "$f"; done >"$fd/all-framed"

seq16() { for n in "$@"; do framed16 "$req/$n.bin"; done; }
seq16 ssh-add-l ssh-add-T-ed25519 ssh-add-T-ecdsa-p256 ssh-add-T-rsa-2048 >"$ah/seq-list-sign"
seq16 ssh-add-x ssh-add-l ssh-add-T-ed25519 ssh-add-X ssh-add-X ssh-add-l >"$ah/seq-lock-unlock"
seq16 ssh-session-bind ssh-add-h-ed25519 ssh-add-T-ed25519 ssh-add-d-ed25519 ssh-add-D >"$ah/seq-bind-dest"
seq16 ssh-add-rsa-2048-cert ssh-add-ed25519-cert ssh-add-t60-ed25519 ssh-add-l ssh-add-D-rsa1 ssh-add-D >"$ah/seq-add-remove"
find "$here/../tests/fixtures/keyfiles" -type f ! -name '*.sh' ! -name '*.pub' ! -name VERSION |
    while read -r f; do cp "$f" "$kf/$(basename "$(dirname "$f")")-$(basename "$f")"; done
echo "frame_decoder: $(ls "$fd" | wc -l) files; agent_handler: $(ls "$ah" | wc -l) files;" \
    "key_file: $(ls "$kf" | wc -l) files"
