#!/bin/sh
# cli_bf16.sh: --precision on the command line and model.precision in msf run
# (issue 17). msf sample and msf forward in bf16: the same bits with 1 and 2
# threads, close to fp32 but not equal, the precision recorded in the output;
# bad values are usage errors. msf run: a sweep over model.precision makes two
# points with their own samples, each recorded in point.json and
# manifest.json; writing `precision: fp32` out reuses the fp32 point, and a
# bf16 point is never taken for an fp32 one. Needs a build with oneDNN
# (bin/msf --version says "bf16: yes"); else SKIP (a failure under CI).
set -u
MSF=${MSF:-bin/msf}
. tests/testlib.sh

if ! "$MSF" --version | grep -q "^bf16: yes"; then
    skip "cli_bf16.sh: $MSF was built without oneDNN (make deps; rebuild)"
    expect_err 2 "without oneDNN" "$MSF" sample --weights tests/golden/run_pixel_dit.h5 --precision bf16 \
        --out "$tmp/e/o.h5"
    finish cli_bf16.sh
fi
W=tests/golden/run_pixel_dit.h5

# --- usage errors -----------------------------------------------------------
expect_err 2 "precision 'fp16': expected fp32 or bf16" "$MSF" sample --weights $W --precision fp16 --out "$tmp/e/o.h5"
expect_err 2 "precision 'x': expected fp32 or bf16" "$MSF" forward --weights $W --in "$tmp/none.h5" \
    --out "$tmp/e/o.h5" --precision x

# --- msf sample: thread counts, closeness, the attribute ---------------------
S="sample --weights $W --num 6 --steps 8 --batch 3 --cfg-scale 2"
expect 0 "" env OMP_NUM_THREADS=1 "$MSF" $S --precision bf16 --out "$tmp/w/b1.h5"
expect 0 "" env OMP_NUM_THREADS=2 "$MSF" $S --precision bf16 --out "$tmp/w/b2.h5"
expect 0 "" "$MSF" $S --out "$tmp/w/f.h5"
if /usr/bin/python3 -c "import h5py, numpy" 2>/dev/null; then
    /usr/bin/python3 - "$tmp/w" <<'PY' >"$tmp/py.log" 2>&1 || fail "msf sample in bf16: $(cat "$tmp/py.log")"
import sys
import h5py
import numpy as np
d = sys.argv[1]
b1, b2, f = (h5py.File(f"{d}/{n}.h5", "r") for n in ("b1", "b2", "f"))
assert b1.attrs["precision"] == "bf16" and f.attrs["precision"] == "fp32", (b1.attrs["precision"], f.attrs["precision"])
x1, x2, xf = b1["latents"][...], b2["latents"][...], f["latents"][...]
assert np.array_equal(x1, x2), "bf16: 1 and 2 threads differ"
assert not np.array_equal(x1, xf), "bf16 samples equal the fp32 ones: bf16 not applied"
rel = np.abs(x1 - xf).max() / np.abs(xf).max()
assert rel < 0.1, f"bf16 vs fp32 samples: rel {rel:.3g}"
print(f"bf16 vs fp32 samples: rel {rel:.3g}")
PY
else
    skip "cli_bf16.sh: comparing samples needs python3-h5py (make deps-python)"
fi

# --- msf forward --------------------------------------------------------------
expect 0 "" "$MSF" forward --weights tests/golden/dit_tiny.h5 --group sigma --in tests/golden/dit_cli_fixture.h5 \
    --out "$tmp/w/fw.h5" --precision bf16
"$MSF" info "$tmp/w/fw.h5" | grep -q "precision = bf16" || fail "msf forward --precision bf16: no precision attribute"

# --- msf decode / encode: the VAE's convolutions ------------------------------
V="--vae tests/golden/vae_tiny.h5 --group vae"
expect 0 "" "$MSF" decode tests/golden/vae_tiny.h5 --dataset dec/z $V --out "$tmp/w/d32.npz"
expect 0 "" env OMP_NUM_THREADS=1 "$MSF" decode tests/golden/vae_tiny.h5 --dataset dec/z $V --precision bf16 \
    --out "$tmp/w/d16a.npz"
expect 0 "" env OMP_NUM_THREADS=2 "$MSF" decode tests/golden/vae_tiny.h5 --dataset dec/z $V --precision bf16 \
    --out "$tmp/w/d16b.npz"
cmp -s "$tmp/w/d16a.npz" "$tmp/w/d16b.npz" || fail "msf decode --precision bf16: 1 and 2 threads differ"
cmp -s "$tmp/w/d32.npz" "$tmp/w/d16a.npz" && fail "msf decode --precision bf16 gave the fp32 images"
expect 0 "" "$MSF" encode "$tmp/w/d32.npz" $V --precision bf16 --out "$tmp/w/e16.h5"
expect_err 2 "precision 'half': expected fp32 or bf16" "$MSF" encode "$tmp/w/d32.npz" $V --precision half \
    --out "$tmp/e/o.h5"

# --- msf run -------------------------------------------------------------------
X=$tmp/bf16.yaml
cat >"$X" <<EOF
experiment: bf16
runs:
  - name: dit
    seed: 3
    num_samples: 8
    batch: 4
    model: {kind: dit, weights: $PWD/$W}
    sampler: {steps: "8", cfg_scale: 1.0}
    evaluator: {featnet: $PWD/tests/golden/classifier_tiny.h5, reference: $PWD/tests/golden/run_reference.npz, batch: 4}
    sweep:
      model.precision: [fp32, bf16]
EOF
R=$tmp/w/run
expect 0 "" "$MSF" run "$X" --results-dir "$R"
P=$R/bf16/points
for p in fp32 bf16; do
    grep -q "\"model_precision\": \"$p\"" "$P/dit,precision=$p/point.json" || fail "point.json of $p lacks its precision"
done
grep -q '"onednn": "' "$R/bf16/manifest.json" || fail "manifest.json names no oneDNN"
[ "$(grep -c '"model_precision": "bf16"' "$R/bf16/manifest.json")" = 1 ] || fail "manifest.json: no bf16 point"
cmp -s "$P/dit,precision=fp32/images.npz" "$P/dit,precision=bf16/images.npz" &&
    fail "the bf16 point's images equal the fp32 point's"
# Without the sweep, `precision: fp32` written out is the fp32 point (reused,
# not sampled again); bf16 in its place finds shards of another config and
# stops until told --force.
sed -e '/sweep:/,$d' -e 's|model: {kind: dit,|model: {precision: fp32, kind: dit,|' "$X" >"$tmp/fp32.yaml"
expect 0 "" "$MSF" run "$tmp/fp32.yaml" --results-dir "$tmp/w/r2"
cmp -s "$tmp/w/r2/bf16/points/dit/images.npz" "$P/dit,precision=fp32/images.npz" ||
    fail "precision: fp32 written out gives other images than the default"
sed 's|precision: fp32, ||' "$tmp/fp32.yaml" >"$tmp/default.yaml"
expect 0 "dit: done before, reused" "$MSF" run "$tmp/default.yaml" --results-dir "$tmp/w/r2"
sed 's|precision: fp32|precision: bf16|' "$tmp/fp32.yaml" >"$tmp/bf.yaml"
expect 1 "shard_00000.h5 was made by another config of 'dit'.*--force" "$MSF" run "$tmp/bf.yaml" \
    --results-dir "$tmp/w/r2"
expect 0 "" "$MSF" run "$tmp/bf.yaml" --results-dir "$tmp/w/r2" --force
grep -q "done before" "$tmp/log" && fail "the bf16 point reused the fp32 one"
grep -q '"model_precision": "bf16"' "$tmp/w/r2/bf16/points/dit/point.json" || fail "the rerun's point is not bf16"
cmp -s "$tmp/w/r2/bf16/points/dit/images.npz" "$P/dit,precision=bf16/images.npz" ||
    fail "bf16 in place of fp32: the images are not the bf16 point's"

# A latent MSF with its VAE in bf16 (sampling and decoding), 1 and 2 threads.
cat >"$tmp/vae.yaml" <<EOF
experiment: bf16vae
runs:
  - name: msf
    num_samples: 4
    batch: 2
    model: {use: $PWD/configs/models/tiny_msf.yaml, precision: bf16}
    sampler: {use: $PWD/configs/samplers/smoke.yaml, base_steps: "4", residual_steps: "2"}
EOF
expect 0 "" env OMP_NUM_THREADS=1 "$MSF" run "$tmp/vae.yaml" --results-dir "$tmp/w/v1"
expect 0 "" env OMP_NUM_THREADS=2 "$MSF" run "$tmp/vae.yaml" --results-dir "$tmp/w/v2"
cmp -s "$tmp/w/v1/bf16vae/points/msf/images.npz" "$tmp/w/v2/bf16vae/points/msf/images.npz" ||
    fail "a bf16 MSF + VAE point: 1 and 2 threads gave other images"
grep -q '"model_precision": "bf16"' "$tmp/w/v1/bf16vae/points/msf/point.json" || fail "the MSF + VAE point is not bf16"

finish cli_bf16.sh
