#!/bin/sh
# cli_base_from.sh: the residual stage on given bases (issue 22, item 1).
# `msf sample --base-from` fed the output of a full `msf sample` gives its
# bits (latents, residual, base, labels), with --first-index offsets and the
# file's first_index honoured; full-size latents are factorised with the
# model's D; bad bases files (shape, rows, NaN, a DiT, no dataset) fail with
# exit 1 naming the file and write nothing. In `msf run`: sampler.base_from
# FILE gives the same images as the full model, `sampler.residual: none`
# gives U(base) (checked against numpy on given bases and on real ones,
# `base_from: real` = D of the evaluator's reference images), the GFLOPs count
# only the stages sampled, and a changed bases file recomputes the point.
# Model: the Fashion-MNIST demo MSF (models/, 1x32x32, base 16x16).
# Run from the repository root by `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh

M=models/fmnist_msf_area_bilinear.h5
S="--weights $M --seed 3 --base-steps 5 --residual-steps 3 --cfg-scale 1.5"
W=$tmp/w
HAVE_PY=0
"$PY" -c 'import h5py, numpy' >/dev/null 2>&1 && HAVE_PY=1

# py WHAT ARGS... <<EOF: a Python check; a failure names WHAT.
py() {
    what=$1
    shift
    "$PY" - "$@" >"$tmp/py.log" 2>&1 || {
        fail "$what"
        sed 's/^/    /' "$tmp/py.log"
    }
}

# --- 1. msf sample --base-from: the bits of the full sampler -----------------
expect 0 "" "$MSF" sample $S --num 6 --batch 4 --label-mode balanced --out "$W/full.h5"
expect 0 "" "$MSF" sample $S --num 6 --batch 4 --base-from "$W/full.h5" --out "$W/res.h5"
# batch 1 on both sides: the same sgemm shapes whatever the OpenBLAS kernel
expect 0 "" "$MSF" sample $S --num 6 --batch 1 --out "$W/full1.h5"
expect 0 "" "$MSF" sample $S --num 3 --batch 1 --first-index 2 --base-from "$W/full1.h5" --out "$W/part.h5"
# A file of samples 4..6 (first_index 4) serves samples 4..6, not 0..2.
expect 0 "" "$MSF" sample $S --num 3 --batch 1 --first-index 4 --out "$W/from4.h5"
expect 0 "" "$MSF" sample $S --num 3 --batch 1 --first-index 4 --base-from "$W/from4.h5" --out "$W/res4.h5"
expect_err 1 "msf sample: $W/from4.h5 holds the bases of samples 4..6 (3 rows of base); samples 0..2 were asked for" \
    "$MSF" sample $S --num 3 --base-from "$W/from4.h5" --out "$tmp/e/o.h5"
if [ $HAVE_PY -eq 1 ]; then
    py "--base-from gives the full sampler's bits" "$W" <<'EOF'
import sys, h5py, numpy as np
w = sys.argv[1]
def load(name):
    with h5py.File(f"{w}/{name}", "r") as f:
        return {k: f[k][()] for k in f}, dict(f.attrs)
full, _ = load("full.h5")
res, attrs = load("res.h5")
for k in ("latents", "residual", "base", "labels"):
    assert np.array_equal(full[k], res[k]), f"{k} differs"
assert attrs["base_from"].endswith("full.h5") and attrs["base_from_dataset"] == "base", attrs
assert attrs["label_mode"] == "base-from" and "base_steps" not in attrs, attrs
assert np.any(full["residual"] != 0)
full1, _ = load("full1.h5")
part, _ = load("part.h5")
for k in ("latents", "base", "labels"):
    assert np.array_equal(full1[k][2:5], part[k]), f"--first-index 2: {k} differs from rows 2..4"
a, _ = load("from4.h5")
b, _ = load("res4.h5")
assert np.array_equal(a["latents"], b["latents"]), "first_index 4: latents differ"
EOF
    # gflops_per_sample: the residual stage's share only.
    py "--base-from's GFLOPs are the residual stage's" "$W" <<'EOF'
import sys, h5py
w = sys.argv[1]
full = h5py.File(f"{w}/full.h5", "r").attrs["gflops_per_sample"]
res = h5py.File(f"{w}/res.h5", "r").attrs["gflops_per_sample"]
assert 0 < res < full, (res, full)
EOF
fi

# --- 2. other sources: latents at the base side, full-size latents (factorised) --
if [ $HAVE_PY -eq 1 ]; then
    py "write bases files" "$W" "$tmp" <<'EOF'
import sys, h5py, numpy as np
w, t = sys.argv[1], sys.argv[2]
with h5py.File(f"{w}/full.h5", "r") as f:
    base, z, y = f["base"][()], f["latents"][()], f["labels"][()]
with h5py.File(f"{t}/base_as_latents.h5", "w") as f:   # latents at the base side, labels
    f["latents"] = base
    f["labels"] = y
with h5py.File(f"{t}/full_size.h5", "w") as f:         # full-size latents, no labels
    f["latents"] = z
bad = {"shape.h5": {"base": np.zeros((6, 1, 8, 8), np.float32)},
       "rank.h5": {"latents": np.zeros((6, 1, 16), np.float32)},
       "none.h5": {"images": np.zeros((6, 1, 16, 16), np.float32)},
       "labels.h5": {"base": base, "labels": np.zeros(5, np.int64)},
       "classes.h5": {"base": base, "labels": np.full(6, 10, np.int64)},
       "flabels.h5": {"base": base, "labels": np.zeros(6, np.float32)}}
nan = base.copy(); nan[4, 0, 3, 5] = np.nan
bad["nan.h5"] = {"base": nan}
inf = z.copy(); inf[1, 0, 0, 0] = np.inf
bad["inf.h5"] = {"latents": inf}
for name, data in bad.items():
    with h5py.File(f"{t}/{name}", "w") as f:
        for k, v in data.items():
            f[k] = v
EOF
    expect 0 "" "$MSF" sample $S --num 6 --batch 4 --base-from "$tmp/base_as_latents.h5" --out "$W/lat.h5"
    expect 0 "" "$MSF" sample $S --num 6 --batch 4 --label-mode balanced --base-from "$tmp/full_size.h5" --out "$W/fs.h5"
    py "latents as bases; full-size latents factorised with the model's D (area: 2x2 means)" "$W" <<'EOF'
import sys, h5py, numpy as np
w = sys.argv[1]
full = h5py.File(f"{w}/full.h5", "r")
lat = h5py.File(f"{w}/lat.h5", "r")
assert np.array_equal(full["latents"][()], lat["latents"][()]), "latents at the base side: other samples"
assert lat.attrs["base_from_dataset"] == "latents", lat.attrs["base_from_dataset"]
fs = h5py.File(f"{w}/fs.h5", "r")
z = full["latents"][()].astype(np.float64)
want = z.reshape(6, 1, 16, 2, 16, 2).mean(axis=(3, 5))
got = fs["base"][()]
err = np.abs(got - want).max() / np.abs(want).max()
assert err <= 1e-6, f"D(z): rel {err}"
assert fs.attrs["base_from_dataset"] == "latents (factorised)", fs.attrs["base_from_dataset"]
# The residual stage ran on that base: latents - residual = U(base) (bilinear x2, half-pixel, clamped).
def up(x):
    def axis(a, ax):
        n = a.shape[ax]
        lo = np.take(a, np.clip(np.arange(n) - 1, 0, n - 1), axis=ax)
        hi = np.take(a, np.clip(np.arange(n) + 1, 0, n - 1), axis=ax)
        out = np.stack([0.75 * a + 0.25 * lo, 0.75 * a + 0.25 * hi], axis=ax + 1)
        shape = list(a.shape); shape[ax] = 2 * n
        return out.reshape(shape)
    return axis(axis(x, 2), 3)
cond = fs["latents"][()].astype(np.float64) - fs["residual"][()]
err = np.abs(cond - up(want)).max() / np.abs(want).max()
assert err <= 1e-5, f"latents - residual vs U(given base): rel {err}"
assert np.array_equal(fs["labels"][()], full["labels"][()]), "--label-mode balanced without file labels"
EOF
    # Bad files: exit 1 naming the file and the cause, nothing written.
    B="$MSF sample $S --num 6 --out $tmp/e/o.h5 --base-from"
    expect_err 1 "msf sample: $tmp/shape.h5: dataset base is \[6, 1, 8, 8\]; the model's bases are \[N, 1, 16, 16\]" $B "$tmp/shape.h5"
    expect_err 1 "$tmp/rank.h5: dataset latents is \[6, 1, 16\]; expected the model's bases \[N, 1, 16, 16\] or full-size latents \[N, 1, 32, 32\]" \
        $B "$tmp/rank.h5"
    expect_err 1 "$tmp/none.h5 has neither a dataset 'base'" $B "$tmp/none.h5"
    expect_err 1 "$tmp/nan.h5: base row 4 has a non-finite value (nan)" $B "$tmp/nan.h5"
    expect_err 1 "$tmp/inf.h5: latents row 1 has a non-finite value (inf)" $B "$tmp/inf.h5"
    expect_err 1 "$tmp/labels.h5: labels must be \[6\], one per row of base" $B "$tmp/labels.h5"
    expect_err 1 "$tmp/classes.h5: label 10 of row 0 is outside the model's classes 0..9" $B "$tmp/classes.h5"
    expect_err 1 "$tmp/flabels.h5" $B "$tmp/flabels.h5"
    expect_err 2 "msf sample: --labels: the labels come from $W/full.h5's .labels. dataset" \
        "$MSF" sample $S --num 2 --labels 1,2 --base-from "$W/full.h5" --out "$tmp/e/o.h5"
    expect_err 2 "msf sample: --label-mode: the labels come from" \
        "$MSF" sample $S --num 2 --label-mode uniform --base-from "$W/full.h5" --out "$tmp/e/o.h5"
else
    skip "cli_base_from.sh: bases files made with h5py (no $PY with h5py, numpy)"
fi
expect_err 1 "msf sample: $W/full.h5 holds the bases of samples 0..5 (6 rows of base); samples 0..6 were asked for" \
    "$MSF" sample $S --num 7 --base-from "$W/full.h5" --out "$tmp/e/o.h5"
expect_err 1 "msf sample: cannot open bases file $tmp/missing.h5" \
    "$MSF" sample $S --num 2 --base-from "$tmp/missing.h5" --out "$tmp/e/o.h5"
expect_err 1 "msf sample: --base-from $W/full.h5: tests/golden/run_pixel_dit.h5 holds a DiT, which has no residual stage" \
    "$MSF" sample --weights tests/golden/run_pixel_dit.h5 --num 2 --base-from "$W/full.h5" --out "$tmp/e/o.h5"
expect_err 2 "expects an integer" "$MSF" sample $S --num x --base-from "$W/full.h5" --out "$tmp/e/o.h5"
expect 0 "^Exit status: " "$MSF" sample --help
expect 0 "--base-from F.h5" "$MSF" sample --help

# --- 3. msf run: base_from, residual none, real bases ------------------------
mkdir "$tmp/cfg"
cp "$W/full.h5" "$tmp/bases.h5"
cat >"$tmp/cfg/given.yaml" <<EOF
experiment: given
defaults:
  seed: 3
  num_samples: 6
  batch: 4
  shard_size: 4
  grid: 4
  sampler: {steps: "5", residual_steps: "3", cfg_scale: 1.5, label_mode: balanced}
  spectrum: {}
  model: {kind: msf, weights: $M}
  evaluator: {featnet: models/fmnist_classifier.h5, reference: tests/golden/run_reference.npz, batch: 8}
runs:
  - name: msf
    sweep: {sampler.residual: [sample, none]}
  - name: file
    sampler: {base_from: $tmp/bases.h5}
    sweep: {sampler.residual: [sample, none]}
  - name: real
    sampler: {base_from: real}
    sweep: {sampler.residual: [sample, none]}
EOF
expect 0 "file,residual=none *6 *2 file+none *1.5 *0.00" "$MSF" run "$tmp/cfg/given.yaml" --dry-run
grep -q "^real,residual=sample *6 *2 real+3 " "$tmp/log" || fail "dry run: real,residual=sample"
grep -q "^msf,residual=none *6 *2 5+none " "$tmp/log" || fail "dry run: msf,residual=none"
R=$tmp/w/r/given
expect 0 "wrote $R: manifest.json" "$MSF" run "$tmp/cfg/given.yaml" --results-dir "$tmp/w/r"
for p in "msf,residual=none" "file,residual=sample" "real,residual=none"; do
    grep -q "| $p | msf | .* | 1.5 | 6 | [0-9]" "$R/table.md" || fail "table.md lacks point $p with numbers"
done
grep -q "| file,residual=none | msf | file + none |" "$R/table.md" || fail "table.md: file + none"
grep -q "| real,residual=sample | msf | real + 3 |" "$R/table.md" || fail "table.md: real + 3"
cmp -s "$R/points/msf,residual=sample/images.npz" "$R/points/file,residual=sample/images.npz" ||
    fail "the residual stage on the bases of msf sample's output gave other images than the full model"
if [ $HAVE_PY -eq 1 ]; then
    py "residual none = U(base); real bases = D(reference images); GFLOPs of the stages sampled" "$R" "$W" <<'EOF'
import csv, sys, h5py, numpy as np
r, w = sys.argv[1], sys.argv[2]
def up(x):  # bilinear x2, align_corners=False (half-pixel), clamped at the edges, one axis at a time
    def axis(a, ax):
        n = a.shape[ax]
        lo = np.take(a, np.clip(np.arange(n) - 1, 0, n - 1), axis=ax)
        hi = np.take(a, np.clip(np.arange(n) + 1, 0, n - 1), axis=ax)
        even, odd = 0.75 * a + 0.25 * lo, 0.75 * a + 0.25 * hi
        out = np.stack([even, odd], axis=ax + 1)
        shape = list(a.shape); shape[ax] = 2 * n
        return out.reshape(shape)
    return axis(axis(x, 2), 3)
def latents(point):
    return h5py.File(f"{r}/points/{point}/latents.h5", "r")["latents"][()]
def close(got, want, what):
    err = np.abs(got - want).max() / np.abs(want).max()
    assert err <= 1e-6, f"{what}: rel {err}"
base = h5py.File(f"{w}/full.h5", "r")["base"][()].astype(np.float64)
close(latents("file,residual=none"), up(base), "file,residual=none vs U(base)")
close(latents("msf,residual=none"), up(base), "msf,residual=none vs U(base) of the same seed")
ref = np.load("tests/golden/run_reference.npz")["arr_0"][:6].astype(np.float64) / 127.5 - 1  # [6, 32, 32, 1]
real = ref.transpose(0, 3, 1, 2).reshape(6, 1, 16, 2, 16, 2).mean(axis=(3, 5))
close(latents("real,residual=none"), up(real), "real,residual=none vs U(D(reference images))")
rows = {row["point"]: row for row in csv.DictReader(open(f"{r}/metrics.csv"))}
g = {p: float(rows[p]["gflops_per_sample"]) for p in rows}
assert g["file,residual=none"] == 0 and g["real,residual=none"] == 0, g
assert abs(g["msf,residual=sample"] - g["msf,residual=none"] - g["file,residual=sample"]) < 1e-9, g
assert g["real,residual=sample"] == g["file,residual=sample"] > 0, g
assert rows["file,residual=none"]["base_steps"] == "file" and rows["real,residual=none"]["residual_steps"] == "none"
EOF
fi
# msf sample --residual none: the run's residual: none, sampled or on given bases.
S0="--weights $M --seed 3 --base-steps 5 --cfg-scale 1.5 --num 6 --batch 4 --label-mode balanced"
expect 0 "" "$MSF" sample $S0 --residual none --out "$W/none.h5"
expect 0 "" "$MSF" sample --weights $M --seed 3 --num 6 --batch 4 --residual none --base-from "$W/full.h5" \
    --out "$W/none_given.h5"
expect_err 2 "msf sample: --residual-steps does not apply with --residual none" \
    "$MSF" sample $S --num 2 --residual none --out "$tmp/e/o.h5"
expect_err 2 "msf sample: --residual expects sample or none, got 'some'" \
    "$MSF" sample $S --num 2 --residual some --out "$tmp/e/o.h5"
expect_err 2 "msf sample: --residual applies to MSF models" \
    "$MSF" sample --weights tests/golden/run_pixel_dit.h5 --num 2 --residual none --out "$tmp/e/o.h5"
if [ $HAVE_PY -eq 1 ]; then
    py "msf sample --residual none = msf run's residual: none" "$R" "$W" <<'EOF'
import sys, h5py, numpy as np
r, w = sys.argv[1], sys.argv[2]
def run(point):
    return h5py.File(f"{r}/points/{point}/latents.h5", "r")["latents"][()]
full = h5py.File(f"{w}/full.h5", "r")
for name, point in (("none.h5", "msf,residual=none"), ("none_given.h5", "file,residual=none")):
    f = h5py.File(f"{w}/{name}", "r")
    assert np.array_equal(f["latents"][()], run(point)), f"{name}: latents differ from {point}"
    assert np.array_equal(f["base"][()], full["base"][()]), f"{name}: base"
    assert not np.any(f["residual"][()]), f"{name}: residual not zero"
    assert f.attrs["residual"] == "none" and "residual_steps" not in f.attrs, dict(f.attrs)
assert h5py.File(f"{w}/none_given.h5", "r").attrs["gflops_per_sample"] == 0
assert 0 < h5py.File(f"{w}/none.h5", "r").attrs["gflops_per_sample"] < full.attrs["gflops_per_sample"]
EOF
fi
expect 0 "done before, reused" "$MSF" run "$tmp/cfg/given.yaml" --results-dir "$tmp/w/r"
grep -q "^\[3/6\] file,residual=sample: done before, reused" "$tmp/log" || fail "an unchanged bases file: not reused"
# A changed bases file: its points are computed again (its content is in the inputs hash).
if [ $HAVE_PY -eq 1 ]; then
    cp "$R/points/file,residual=sample/images.npz" "$tmp/before.npz"
    "$PY" -c "import h5py, sys
with h5py.File(sys.argv[1], 'r+') as f: f['base'][...] *= 0.5" "$tmp/bases.h5" || fail "cannot edit $tmp/bases.h5"
    expect 0 "removed the old inputs. samples" "$MSF" run "$tmp/cfg/given.yaml" --results-dir "$tmp/w/r"
    for p in "file,residual=sample" "file,residual=none"; do
        grep -q "\] $p: done before" "$tmp/log" && fail "$p was reused after its bases file changed"
    done
    grep -q "\] msf,residual=sample: done before, reused" "$tmp/log" || fail "a point without the bases file was recomputed"
    cmp -s "$R/points/file,residual=sample/images.npz" "$tmp/before.npz" && fail "new bases gave the same images"
fi
# Errors before sampling: a file of too few rows, real bases for a latent
# model or without an evaluator, base_from for a DiT.
sed 's/num_samples: 6/num_samples: 7/' "$tmp/cfg/given.yaml" >"$tmp/cfg/rows.yaml"
expect_err 1 "file,residual=sample: sampler.base_from: $tmp/bases.h5 holds the bases of samples 0..5 (6 rows of base); samples 0..6 were asked for" \
    "$MSF" run "$tmp/cfg/rows.yaml" --results-dir "$tmp/e"
expect 1 "holds the bases of samples 0..5" "$MSF" run "$tmp/cfg/rows.yaml" --dry-run
cat >"$tmp/cfg/bad.yaml" <<EOF
experiment: bad
runs:
  - name: real
    num_samples: 2
    model: {use: $PWD/configs/models/tiny_msf.yaml}
    sampler: {base_from: real}
EOF
expect_err 1 "bad.yaml:6: 'runs\[0\].sampler.base_from: real' takes the bases of the evaluator's reference images; the point has no evaluator" \
    "$MSF" run "$tmp/cfg/bad.yaml" --results-dir "$tmp/e"
printf '    evaluator: {featnet: tests/golden/classifier_tiny.h5, reference: tests/golden/run_reference.npz}\n' >>"$tmp/cfg/bad.yaml"
expect_err 1 "real: sampler.base_from: real takes the reference's pixels as z, for a pixel-space model; this one has a VAE" \
    "$MSF" run "$tmp/cfg/bad.yaml" --results-dir "$tmp/e"
cat >"$tmp/cfg/dit.yaml" <<EOF
experiment: dit
runs:
  - name: dit
    num_samples: 2
    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5}
    sampler: {residual: none}
EOF
expect_err 1 "dit.yaml:6: dit: 'sampler.residual' applies to MSF models" "$MSF" run "$tmp/cfg/dit.yaml" --results-dir "$tmp/e"
sed 's/residual: none/residual: some/' "$tmp/cfg/dit.yaml" >"$tmp/cfg/choice.yaml"
expect_err 1 "'runs\[0\].sampler.residual' is 'some'; expected one of: sample, none" \
    "$MSF" run "$tmp/cfg/choice.yaml" --results-dir "$tmp/e"

# The Fashion-MNIST decomposition experiment: its grid and costs.
expect 0 "msf,residual=none,seed=0 *2000 *4 100+none *1.5 *2.68 " "$MSF" run experiments/fmnist_decomposition.yaml --dry-run
expect 0 "real_none_set1 *2000 *4 file+none *1.5 *0.00 " "$MSF" run experiments/fmnist_decomposition.yaml --dry-run

finish cli_base_from.sh
