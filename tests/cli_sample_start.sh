#!/bin/sh
# cli_sample_start.sh: where a sampling loop starts and what it clamps (issue
# 22, item 3). msf sample with --residual-start and an "N@T" respacing runs;
# a truncated start equals the "N@T" respacing of the same steps (both start
# from x_T, the unit-variance marginal); --clip-x0 per stage; bad values of
# each exit 2 with a message naming them. Run from the repository root by
# `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh

# The datasets `names` of two sample files are equal (1) or not (0): same NAMES A B WANT.
same() {
    "$PY" - "$@" <<'PYEOF'
import sys
import h5py
import numpy as np
names, a, b, want = sys.argv[1].split(","), h5py.File(sys.argv[2], "r"), h5py.File(sys.argv[3], "r"), sys.argv[4]
equal = all(np.array_equal(a[k][()], b[k][()]) for k in names)
sys.exit(0 if equal == (want == "1") else 1)
PYEOF
}
# Every value of dataset NAME of FILE lies in [-1, 1]: within FILE NAME.
within() {
    "$PY" - "$@" <<'PYEOF'
import sys
import h5py
import numpy as np
sys.exit(0 if np.abs(h5py.File(sys.argv[1], "r")[sys.argv[2]][()]).max() <= 1 else 1)
PYEOF
}
if ! "$PY" -c "import h5py, numpy" 2>/dev/null; then
    skip "cli_sample_start.sh: comparing samples needs /usr/bin/python3 with h5py and numpy"
    same() { return 0; }
    within() { return 0; }
fi

M="--weights models/fmnist_msf_area_bilinear.h5 --num 2 --base-steps 3 --cfg-scale 1"
W=$tmp/w E=$tmp/e/o.h5

# "5@500": 0, 125, 250, 374, 499; the residual starts at 499.
expect 0 "" "$MSF" sample $M --residual-steps 5@500 --out "$W/at.h5"
expect 0 "residual_num_steps = 5" "$MSF" info "$W/at.h5"
grep -q "residual_steps = 5@500" "$tmp/log" || fail "the respacing 5@500 is not recorded: $(cat "$tmp/log")"
expect 0 "" "$MSF" sample $M --residual-steps 5@500 --residual-start 499 --out "$W/at499.h5"
same latents,residual "$W/at.h5" "$W/at499.h5" 1 || fail "5@500 from its top step 499 differs from 5@500"
# "10" keeps 0, 111, 222, ...: from 444 the steps of "5@445", from x_T both.
expect 0 "" "$MSF" sample $M --residual-steps 10 --residual-start 444 --out "$W/t444.h5"
expect 0 "residual_num_steps = 5" "$MSF" info "$W/t444.h5"
grep -q "residual_start_t = 444" "$tmp/log" || fail "--residual-start 444 is not recorded"
expect 0 "" "$MSF" sample $M --residual-steps 5@445 --out "$W/at445.h5"
same latents,base,residual "$W/t444.h5" "$W/at445.h5" 1 ||
    fail "a truncated start at 444 of '10' differs from '5@445' (0, 111, 222, 333, 444)"
expect 0 "" "$MSF" sample $M --residual-steps 5 --out "$W/full.h5"
same residual "$W/full.h5" "$W/at.h5" 0 || fail "'5@500' samples the same residual as '5'"
# A DiT takes "N@T" too.
expect 0 "" "$MSF" sample --weights tests/golden/run_pixel_dit.h5 --num 2 --steps 3@700 --out "$W/dit.h5"
expect 0 "num_steps = 3" "$MSF" info "$W/dit.h5"

# x0 clamped: the base's last DDPM step is its x0 estimate, so it lies in [-1, 1].
expect 0 "" "$MSF" sample $M --residual-steps 2@250 --clip-x0 true --residual-clip-x0 false --out "$W/clip.h5"
expect 0 "base_clip_x0 = 1" "$MSF" info "$W/clip.h5"
grep -q "residual_clip_x0 = 0" "$tmp/log" || fail "--residual-clip-x0 false is not recorded"
within "$W/clip.h5" base || fail "--clip-x0 true: the base leaves [-1, 1]"
expect 0 "" "$MSF" sample $M --residual-steps 2@250 --out "$W/noclip.h5"
same base "$W/clip.h5" "$W/noclip.h5" 0 || fail "--clip-x0 true changes no base"
expect 0 "" "$MSF" sample $M --residual-steps 2@250 --residual-clip-x0 true --out "$W/rclip.h5"
same base "$W/rclip.h5" "$W/noclip.h5" 1 || fail "--residual-clip-x0 true changed the base"
same residual "$W/rclip.h5" "$W/noclip.h5" 0 || fail "--residual-clip-x0 true changes no residual"

# Bad values: usage errors (exit 2), nothing written.
expect_err 2 "cannot divide section of 500 steps into 600" "$MSF" sample $M --residual-steps 600@500 --out "$E"
expect_err 2 "--residual-steps: respacing '5@1001': expected SPEC@T with T an integer in 1..1000" \
    "$MSF" sample $M --residual-steps 5@1001 --out "$E"
expect_err 2 "respacing '5@0': expected SPEC@T with T an integer in 1..1000" "$MSF" sample $M --residual-steps 5@0 --out "$E"
expect_err 2 "respacing '0' keeps no steps" "$MSF" sample $M --residual-steps 0@500 --out "$E"
expect_err 2 "expected step counts" "$MSF" sample $M --residual-steps -1@500 --out "$E"
for bad in 5@ 5@x 5@500@100; do
    expect_err 2 "respacing '$bad': expected SPEC@T" "$MSF" sample $M --residual-steps "$bad" --out "$E"
done
expect_err 2 "respacing '@500'.*expected step counts" "$MSF" sample $M --residual-steps @500 --out "$E"
expect_err 2 "--base-steps: respacing 'ddim300@500'" "$MSF" sample $M --base-steps ddim300@500 --out "$E"
expect_err 2 "--steps: respacing '5@2000'" \
    "$MSF" sample --weights tests/golden/run_pixel_dit.h5 --num 2 --steps 5@2000 --out "$E"
expect_err 2 "--residual-start expects an integer in \[1, 999\], got '1000'" \
    "$MSF" sample $M --residual-start 1000 --out "$E"
expect_err 2 "--residual-start expects an integer in \[1, 999\], got '0'" "$MSF" sample $M --residual-start 0 --out "$E"
expect_err 2 "--residual-start expects an integer" "$MSF" sample $M --residual-start x --out "$E"
expect_err 2 "--clip-x0 expects true or false, got 'yes'" "$MSF" sample $M --clip-x0 yes --out "$E"
expect_err 2 "--residual-clip-x0 expects true or false, got '1'" "$MSF" sample $M --residual-clip-x0 1 --out "$E"

finish cli_sample_start.sh
