#!/bin/sh
# cli_cond_aug.sh: `msf sample --residual-cond-noise` (conditioning
# augmentation) on the tiny cond_aug MSF model of tests/golden/msf_cond_aug.h5
# (group model/, copied to a file of its own with h5py): determinism, the
# option recorded, and every refusal (range, a DiT, a noise file, a residual
# trained without augmentation). Run from the repository root by `make test`.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh

if ! "$PY" -c 'import h5py' 2>/dev/null; then
    skip "cli_cond_aug.sh needs /usr/bin/python3 with h5py to extract the model"
    finish cli_cond_aug
fi
"$PY" - "$tmp/aug.h5" "$tmp/plain.h5" <<'PYEOF'
import sys, h5py
for src, dst in (("tests/golden/msf_cond_aug.h5", sys.argv[1]), ("tests/golden/msf_tiny.h5", sys.argv[2])):
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for k, v in f["model"].attrs.items():
            g.attrs[k] = v
        for name in f["model"]:
            f.copy(f["model"][name], g, name)
PYEOF
common="--num 3 --batch 2 --steps 3 --cfg-scale 1 --seed 5"
expect 0 "" "$MSF" sample --weights "$tmp/aug.h5" --out "$tmp/w/a.h5" $common --residual-cond-noise 100
expect 0 "" "$MSF" sample --weights "$tmp/aug.h5" --out "$tmp/w/b.h5" $common --residual-cond-noise 100 --batch 3
expect 0 "" "$MSF" sample --weights "$tmp/aug.h5" --out "$tmp/w/c.h5" $common
# Batch sizes give the same samples up to OpenBLAS's row blocking (bit-exact
# on the kernels tests/test_msf.c names, within 1e-6 elsewhere, as README says).
"$PY" - "$tmp/w/a.h5" "$tmp/w/b.h5" "$tmp/w/c.h5" <<'PYEOF' || fail "batch dependence, level ignored or not recorded"
import sys, h5py, numpy as np
a, b, c = (h5py.File(p, "r") for p in sys.argv[1:])
la, lb, lc = (f["latents"][()] for f in (a, b, c))
rel = np.abs(la - lb).max() / np.abs(la).max()
assert rel <= 1e-6, f"batch 2 vs 3: rel {rel:.3g}"
assert np.array_equal(a["base"][()], c["base"][()]), "the level changed the base"
d = np.abs(la - lc).max() / np.abs(la).max()
assert d > 1e-3, f"level 100 gives the samples of level 0 (rel {d:.3g})"
assert int(a.attrs["residual_cond_noise"]) == 100 and int(a.attrs["base_cond_noise"]) == 0
assert int(c.attrs["residual_cond_noise"]) == 0
PYEOF
expect_err 2 "0..1000" "$MSF" sample --weights "$tmp/aug.h5" --out "$tmp/e/x.h5" $common --residual-cond-noise 1001
expect_err 2 "" "$MSF" sample --weights "$tmp/aug.h5" --out "$tmp/e/x.h5" $common --residual-cond-noise -1
expect_err 2 "MSF models" "$MSF" sample --weights tests/golden/dit_tiny.h5 --group sigma --out "$tmp/e/x.h5" \
    $common --residual-cond-noise 10
expect_err 2 "noise file" "$MSF" sample --weights "$tmp/aug.h5" --out "$tmp/e/x.h5" $common \
    --residual-cond-noise 10 --noise-file "$tmp/a.txt"
expect_err 1 "conditioning augmentation" "$MSF" sample --weights "$tmp/plain.h5" --out "$tmp/e/x.h5" $common \
    --residual-cond-noise 10
finish cli_cond_aug
