#!/bin/sh
# cli_quiet.sh: the output options (issue 21). --quiet (before or after the
# command) silences info lines and progress bars, warnings and errors stay;
# a progress bar is drawn only on a terminal unless --progress asks for it
# (a log file gets lines then); the options change no result; a command that
# fails on its input draws no bar first. Run from the repository root by
# `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh

# The samples of two files (datasets and attributes; not the HDF5 bytes,
# which may hold times).
same_samples() {
    "$PY" - "$1" "$2" <<'PYEOF'
import sys
import h5py
import numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
ok = sorted(a) == sorted(b) and all(np.array_equal(a[k][()], b[k][()]) for k in a)
ok = ok and sorted(a.attrs) == sorted(b.attrs) and all(str(a.attrs[k]) == str(b.attrs[k]) for k in a.attrs)
sys.exit(0 if ok else 1)
PYEOF
}
if ! "$PY" -c "import h5py, numpy" 2>/dev/null; then
    skip "cli_quiet.sh: comparing samples needs /usr/bin/python3 with h5py and numpy"
    same_samples() { return 0; }
fi

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
    same_samples "$W/a.h5" "$W/d.h5" || fail "msf $q changed the samples"
done
same_samples "$W/a.h5" "$W/b.h5" || fail "--progress changed the samples"
# Errors are not silenced; no bar before them.
: >"$tmp/empty.npz"
expect 1 "^msf features: cannot read $tmp/empty.npz as .npz" \
    "$MSF" --quiet features "$tmp/empty.npz" --net tests/golden/classifier_tiny.h5 --out "$tmp/e/f.h5"
expect 1 "" "$MSF" --progress features "$tmp/empty.npz" --net tests/golden/classifier_tiny.h5 --out "$tmp/e/f.h5"
grep -q "features 0/0" "$tmp/log" && fail "a progress bar before the error: $(cat "$tmp/log")"
expect 0 "--progress" "$MSF" --help

finish cli_quiet.sh
