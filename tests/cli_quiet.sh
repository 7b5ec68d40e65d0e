#!/bin/sh
# cli_quiet.sh: the output options (issue 21). --quiet (before or after the
# command) silences info lines and progress bars, warnings and errors stay;
# a progress bar is drawn only on a terminal unless --progress asks for it
# (a log file gets lines then); the options change no result; a command that
# fails on its input draws no bar first. Run from the repository root by
# `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
. tests/testlib.sh

P="--weights tests/golden/run_pixel_dit.h5 --steps 3 --num 4"
W=$tmp/w
# stderr is a file here, not a terminal: no bar by default.
"$MSF" sample $P --out "$W/a.h5" 2>"$tmp/err" || fail "sample failed: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "a bar or message without a terminal: $(cat "$tmp/err")"
"$MSF" --progress sample $P --out "$W/b.h5" 2>"$tmp/err" || fail "sample --progress failed"
grep -q "sample steps 3/3" "$tmp/err" || fail "--progress drew no progress line: $(cat "$tmp/err")"
"$MSF" sample $P --progress --out "$W/c.h5" 2>"$tmp/err" || fail "sample ... --progress failed"
grep -q "sample steps 3/3" "$tmp/err" || fail "--progress after the command drew no progress line"
for q in "--quiet sample $P --progress" "sample $P --quiet --progress" "-q --progress sample $P"; do
    # shellcheck disable=SC2086
    "$MSF" $q --out "$W/d.h5" 2>"$tmp/err" || fail "msf $q failed: $(cat "$tmp/err")"
    [ ! -s "$tmp/err" ] || fail "msf $q wrote to stderr: $(cat "$tmp/err")"
    cmp -s "$W/a.h5" "$W/d.h5" || fail "msf $q changed the samples"
done
cmp -s "$W/a.h5" "$W/b.h5" || fail "--progress changed the samples"
# Errors are not silenced; no bar before them.
: >"$tmp/empty.npz"
expect 1 "^msf features: cannot read $tmp/empty.npz as .npz" \
    "$MSF" --quiet features "$tmp/empty.npz" --net tests/golden/classifier_tiny.h5 --out "$tmp/e/f.h5"
expect 1 "" "$MSF" --progress features "$tmp/empty.npz" --net tests/golden/classifier_tiny.h5 --out "$tmp/e/f.h5"
grep -q "features 0/0" "$tmp/log" && fail "a progress bar before the error: $(cat "$tmp/log")"
expect 0 "--progress" "$MSF" --help

finish cli_quiet.sh
