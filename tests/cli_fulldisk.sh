#!/bin/sh
# cli_fulldisk.sh: every command that writes result files, on a full disk.
# A 64 KiB tmpfs is mounted (root only) and filled: `msf sample`, `forward`,
# `features`, `encode`, `decode` (.npz, PNGs and grid), `stats` and
# `spectrum --no-plots` must each exit 1 (not crash: a failed HDF5 close used
# to SIGSEGV at exit), say "No space left on device" naming the file, and
# leave nothing in the folder: no temporary file, no partial file, no part
# of a set of results (decode's PNGs, spectrum's folder). Twice: with no space at all (the first write fails) and with
# 4 KiB left (small files fit, the rest does not). The same commands first
# run on the empty tmpfs, where they must succeed.
# Run from the repository root by `make test` with MSF set to the binary.
# Without root or tmpfs the script says SKIP (a failure under CI=true).
set -u
MSF=${MSF:-bin/msf}
. tests/testlib.sh

D=$tmp/disk
mkdir "$D"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=64k,mode=0755 tmpfs "$D" 2>"$tmp/mount.log"; then
    skip "cli_fulldisk.sh: needs root and tmpfs to mount a small file system ($(cat "$tmp/mount.log" 2>/dev/null))"
    finish cli_fulldisk.sh
fi
trap 'umount "$D" 2>/dev/null; rm -rf "$tmp"' EXIT

DIT="--weights tests/golden/dit_tiny.h5 --group sigma"
VAE="--vae tests/golden/vae_tiny.h5 --group vae"
NET="--net tests/golden/classifier_tiny.h5"
W=$tmp/w

# Inputs (on the ordinary disk): latents; ten 28x28 grey images as an IDX
# file (the header, then bytes of a golden file) for the tiny classifier, and
# their features; colour images from the tiny VAE.
expect 0 "" "$MSF" sample $DIT --num 4 --steps 2 --out "$W/lat.h5"
printf '\000\000\010\003\000\000\000\012\000\000\000\034\000\000\000\034' >"$W/img-images-idx3-ubyte"
dd if=tests/golden/dit_tiny.h5 bs=7840 skip=1 count=1 >>"$W/img-images-idx3-ubyte" 2>/dev/null
expect 0 "" "$MSF" features "$W/img-images-idx3-ubyte" $NET --out "$W/feat.h5"
expect 0 "" "$MSF" decode tests/golden/vae_tiny.h5 --dataset dec/z $VAE --out "$W/img.npz"

# run_all WANT PATTERN PREFIX: each writer with its results on the tmpfs, as
# check does it; result names start with PREFIX.
run_all() {
    want=$1 pattern=$2 p=$D/$3
    check "$want" "$pattern" "$p"s.h5 s.h5 "$MSF" sample $DIT --num 20 --steps 2 --out "$p"s.h5
    check "$want" "$pattern" "$p"f.h5 f.h5 "$MSF" forward $DIT --in tests/golden/dit_cli_fixture.h5 --out "$p"f.h5
    check "$want" "$pattern" "$p"feat.h5 feat.h5 "$MSF" features "$W/img-images-idx3-ubyte" $NET --out "$p"feat.h5
    check "$want" "$pattern" "$p"enc.h5 enc.h5 "$MSF" encode "$W/img.npz" $VAE --out "$p"enc.h5
    check "$want" "$pattern" "$p(dec\.npz|png/00000[01]\.png|grid\.png)" "dec.npz grid.png png/000000.png png/000001.png" \
        "$MSF" decode tests/golden/vae_tiny.h5 --dataset dec/z $VAE --out "$p"dec.npz --png-dir "$p"png --grid "$p"grid.png
    check "$want" "$pattern" "$p"st.npz st.npz "$MSF" stats "$W/feat.h5" --out "$p"st.npz
    check "$want" "$pattern" "$p"spec/ "spec/spectrum.csv spec/bands.csv spec/wavelet.csv spec/spectrum.h5" \
        "$MSF" spectrum "$W/lat.h5" --out "$p"spec --no-plots
}

# check WANT PATTERN NAME OUTPUTS CMD...: expect (PATTERN is looked for
# only when the command fails; WANT may be "0|1"), and no crash. On success,
# the OUTPUTS (names after the prefix) exist and no temporary file does; on
# failure, the message names the file (NAME, an extended regex) and nothing
# but the filler is left on the tmpfs. Then the tmpfs is emptied but for the
# filler.
check() {
    want=$1 pattern=$2 name=$3 outputs=$4
    shift 4
    expect "$want" "" "$@"
    [ "$got" -lt 128 ] || fail "$* -> killed by signal $((got - 128))"
    if [ "$got" = 0 ]; then
        for f in $outputs; do
            [ -s "$p$f" ] || fail "$* -> no $p$f"
        done
        tmps=$(find "$D" -name '*.tmp-*')
        [ -z "$tmps" ] || fail "$* -> temporary files left: $tmps"
    else
        grep -q -- "$pattern" "$tmp/log" || fail "$* -> the message lacks '$pattern': $(cat "$tmp/log")"
        grep -Eq -- "$name" "$tmp/log" || fail "$* -> the message does not name $name: $(cat "$tmp/log")"
        left=$(ls -A "$D" | grep -v '^fill$')
        [ -z "$left" ] || fail "$* left on the full disk: $left"
    fi
    find "$D" -mindepth 1 ! -name fill -exec rm -rf {} +
}

# 1. Room to spare: every result is written.
run_all 0 "" ok_
expect 0 "" "$MSF" sample $DIT --num 20 --steps 2 --out "$D/s.h5"
expect 0 "latents  *\[20, 4, 8, 8\]" "$MSF" info "$D/s.h5"
rm -f "$D/s.h5"

# 2. A full disk: every write fails at once.
dd if=/dev/zero of="$D/fill" bs=4096 >/dev/null 2>&1
[ "$(df -k "$D" | awk 'NR == 2 { print $4 }')" = 0 ] || fail "the tmpfs is not full: $(df -k "$D")"
run_all 1 "No space left on device" x_

# 3. 4 KiB left: small files fit (a command whose results all fit succeeds;
# the small statistics file does), the rest does not.
rm -f "$D/fill"
dd if=/dev/zero of="$D/fill" bs=4096 count=15 >/dev/null 2>&1
[ "$(df -k "$D" | awk 'NR == 2 { print $4 }')" = 4 ] || fail "the tmpfs should have 4 KiB free: $(df -k "$D")"
run_all "0|1" "No space left on device" x_

finish cli_fulldisk.sh
