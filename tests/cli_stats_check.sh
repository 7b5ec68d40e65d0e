#!/bin/sh
# cli_stats_check.sh: inputs checked where they enter `msf evaluate`,
# `msf stats`, `msf features` and `msf report`: statistics files whose sigma is
# not a covariance (negative definite, asymmetric, mu/sigma of other sizes)
# -> exit 1 naming the file and the problem; identical inputs -> FID 0.0 and
# KID about 0 (clean-fid's average over all pairs gives -2/(n-1)(mean k(x,x)
# - mean k(x,y)) there), KID of sets sharing rows and of disjoint sets equal
# to numpy computing the documented estimator; labels outside the network's
# classes or not integers (.npz arr_1, IDX labels, `msf sample` output,
# features files) -> exit 1
# naming the file and the label; `msf report` of a missing or empty results
# folder -> exit 1, nothing written.
# Run from the repository root by `make test` with MSF set to the binary;
# needs /usr/bin/python3 with numpy and h5py to write inputs.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
NET="--net tests/golden/classifier_tiny.h5"  # 7 classes
. tests/testlib.sh

if ! "$PY" -c "import numpy, h5py" 2>/dev/null; then
    skip "cli_stats_check.sh: needs /usr/bin/python3 with numpy, h5py (make deps-python)"
    finish cli_stats_check.sh
fi

# Features: 40 reference rows; a sample of the same 40 rows; one sharing 20
# rows with the reference; one sharing none (40 rows each: every KID subset is
# the whole set, so the value does not depend on the subset draws).
# Statistics files: valid, -I, asymmetric, mismatched sizes, bad sigma_s.
# Images with bad labels.
"$PY" - "$tmp" <<'PYEOF'
import gzip, struct, sys
import h5py, numpy as np
t = sys.argv[1]
r = np.random.default_rng(1)
ref = (2 * r.standard_normal((40, 12))).astype(np.float32)
new = (2 * r.standard_normal((40, 12)) + 0.3).astype(np.float32)
half = np.concatenate([ref[:20], new[:20]])
for name, x in (("ref", ref), ("same", ref.copy()), ("half", half), ("disjoint", new)):
    with h5py.File(f"{t}/{name}.h5", "w") as f:
        f["pool_3"] = x
# Fewer rows than dimensions (a singular covariance): FID of the set against
# itself came out at -4e-7 before round-off was clamped.
with h5py.File(f"{t}/few.h5", "w") as f:
    f["pool_3"] = np.maximum(r.standard_normal((20, 64)), 0).astype(np.float32)

def kid(ref, sample, exclude_equal):
    """KID with m = n (every subset is the whole set, in any order); pairs of
    equal rows left out of the cross term when exclude_equal."""
    x, y = sample.astype(np.float64), ref.astype(np.float64)
    m, d = x.shape
    a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
    b = (x @ y.T / d + 1) ** 3
    within = (a.sum() - np.diag(a).sum()) / (m * (m - 1))
    if exclude_equal:
        same = (sample[:, None, :] == ref[None, :, :]).all(-1)
        if 0 < same.sum() < m * m:
            return within - 2 * b[~same].mean()
    return within - 2 * b.mean()

with open(f"{t}/kid.txt", "w") as f:
    for name, x in (("same", ref), ("half", half), ("disjoint", new)):
        f.write(f"{name} {kid(ref, x, True)!r} {kid(ref, x, False)!r}\n")

c = np.cov(ref.astype(np.float64), rowvar=False)
np.savez(f"{t}/good.npz", mu=ref.mean(0).astype(np.float64), sigma=c)
np.savez(f"{t}/negI.npz", mu=np.zeros(12), sigma=-np.eye(12))
asym = c.copy()
asym[2, 5] += 0.5
np.savez(f"{t}/asym.npz", mu=np.zeros(12), sigma=asym)
np.savez(f"{t}/sizes.npz", mu=np.zeros(12), sigma=np.eye(11))
np.savez(f"{t}/badsp.npz", mu=np.zeros(12), sigma=c, mu_s=np.zeros(3), sigma_s=-np.eye(3))

img = r.integers(0, 256, (6, 28, 28), dtype=np.uint8)
good = np.array([0, 1, 2, 3, 4, 6])
np.savez(f"{t}/lab_ok.npz", img, good)
for name, lab in (("lab99", [0, 1, 2, 99, 4, 5]), ("labneg", [0, 1, 2, 3, -3, 5]),
                  ("labfloat", np.array([0, 1, 2.5, 3, 4, 5]))):
    np.savez(f"{t}/{name}.npz", img, np.array(lab))
np.savez(f"{t}/labint.npz", img, good.astype(np.float64))
with gzip.open(f"{t}/bad-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 6, 28, 28) + img.tobytes())
with gzip.open(f"{t}/bad-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 6) + bytes([0, 1, 200, 3, 4, 5]))
np.savez(f"{t}/sampled.npz", img)  # `msf sample` output: images beside latents and labels
with h5py.File(f"{t}/sampled.h5", "w") as f:
    f["latents"] = r.standard_normal((6, 4, 4, 4)).astype(np.float32)
    f["labels"] = np.array([0, 1, 2, 3, 4, 99], np.int64)
with h5py.File(f"{t}/featlab.h5", "w") as f:
    f["pool_3"] = ref[:6]
    f["logits"] = r.standard_normal((6, 7)).astype(np.float32)
    f["labels"] = np.array([0, 1, 2, 3, 9, 5], np.int64)
PYEOF

W=$tmp/w E=$tmp/e

# --- Statistics files ---------------------------------------------------------
expect 0 "^FID: 0.0$" "$MSF" evaluate "$tmp/good.npz" "$tmp/good.npz"
expect_err 1 "negI.npz (mu, sigma): sigma is not a covariance (not positive semi-definite): smallest eigenvalue -1," \
    "$MSF" evaluate "$tmp/negI.npz" "$tmp/good.npz" --json "$E/m.json"
grep -q "^FID" "$tmp/log" && fail "a FID was printed for sigma = -I"
expect_err 1 "negI.npz (mu, sigma): sigma is not a covariance" "$MSF" evaluate "$tmp/good.npz" "$tmp/negI.npz"
expect_err 1 "asym.npz (mu, sigma): sigma is not symmetric: sigma\[2, 5\]" "$MSF" evaluate "$tmp/asym.npz" "$tmp/good.npz"
expect_err 1 "sizes.npz: mu must be \[d\] and sigma \[d, d\]" "$MSF" evaluate "$tmp/sizes.npz" "$tmp/good.npz"
expect_err 1 "badsp.npz (mu_s, sigma_s): sigma is not a covariance" "$MSF" evaluate "$tmp/badsp.npz" "$tmp/good.npz"
expect_err 1 "negI.npz (mu, sigma): sigma is not a covariance" "$MSF" stats "$tmp/negI.npz" --out "$E/s.npz"
expect 0 "" "$MSF" stats "$tmp/good.npz" --out "$W/copy.npz"

# --- Identical inputs, shared rows, disjoint sets: FID and KID -------------------
expect 0 "^FID: 0.0$" "$MSF" evaluate "$tmp/few.h5" "$tmp/few.h5"
expect 0 "^FID: 0.0$" "$MSF" evaluate "$tmp/ref.h5" "$tmp/same.h5" --kid
grep -q "KID: 40 of the 40 sample feature rows equal reference rows" "$tmp/log" || fail "no warning on shared rows"
for name in same half disjoint; do
    expect 0 "^KID: " "$MSF" evaluate "$tmp/ref.h5" "$tmp/$name.h5" --kid
    got=$(sed -n 's/^KID: //p' "$tmp/log")
    if ! "$PY" - "$tmp/kid.txt" "$name" "$got" <<'PYEOF'
import sys
want = {l.split()[0]: (float(l.split()[1]), float(l.split()[2])) for l in open(sys.argv[1])}
ours, clean = want[sys.argv[2]]
got = float(sys.argv[3])
if sys.argv[2] == "same":
    # clean-fid averages the cross term over all pairs, self-pairs included.
    assert clean < -1, f"numpy clean-fid value {clean} is not the large negative bias"
    assert abs(got) <= 1e-12 * 100, f"KID of identical sets {got}"
elif sys.argv[2] == "disjoint":
    assert ours == clean
assert abs(got - ours) <= 1e-10 * max(abs(ours), 1), f"KID {got}, numpy {ours} (clean-fid's average: {clean})"
PYEOF
    then fail "KID of ref.h5 vs $name.h5 differs from numpy"; fi
done

# --- Labels -------------------------------------------------------------------
expect 0 "6 images, pool 12, .*labels" "$MSF" features "$tmp/lab_ok.npz" $NET --out "$W/lab_ok.h5"
expect_err 1 "lab99.npz, arr_1: label 99 of sample 3 is outside the network's classes \[0, 7)" \
    "$MSF" features "$tmp/lab99.npz" $NET --out "$E/f.h5"
expect_err 1 "labneg.npz, arr_1: label -3 of sample 4 is outside" "$MSF" features "$tmp/labneg.npz" $NET --out "$E/f.h5"
expect_err 1 "labfloat.npz: arr_1 (the class labels) is float64, not integers: label 2 is 2.5" \
    "$MSF" features "$tmp/labfloat.npz" $NET --out "$E/f.h5"
expect_err 1 "labint.npz: arr_1 (the class labels) is float64, not an integer array" \
    "$MSF" features "$tmp/labint.npz" $NET --out "$E/f.h5"
expect_err 1 "bad-labels-idx1-ubyte.gz: label 200 of sample 2 is outside the network's classes \[0, 7)" \
    "$MSF" features "$tmp/bad-images-idx3-ubyte.gz" $NET --out "$E/f.h5"
expect_err 1 "sampled.h5, labels: label 99 of sample 5 is outside the network's classes \[0, 7)" \
    "$MSF" features "$tmp/sampled.h5" $NET --out "$E/f.h5"
expect_err 1 "lab99.npz, arr_1: label 99" "$MSF" evaluate "$tmp/lab_ok.npz" "$tmp/lab99.npz" $NET --json "$E/m.json"
expect_err 1 "featlab.h5, labels: label 9 of sample 4 is outside the network's classes \[0, 7)" \
    "$MSF" evaluate "$tmp/ref.h5" "$tmp/featlab.h5" --json "$E/m.json"

# --- msf report -----------------------------------------------------------------
printf 'source,table,model,resolution,cfg_scale,steps,metric,value,note\n' >"$tmp/reported.csv"
mkdir "$tmp/results_empty"
expect_err 1 "results folder $tmp/results_empty holds no experiment results" \
    "$MSF" report --results-dir "$tmp/results_empty" --reported "$tmp/reported.csv" --out "$E/R.md"
expect_err 1 "results folder $tmp/missing: No such file or directory" \
    "$MSF" report --results-dir "$tmp/missing" --reported "$tmp/reported.csv" --out "$E/R.md"
# An experiment without plots (an empty list of PNGs).
mkdir -p "$tmp/results/exp"
printf 'point,fid\na,1.5\n' >"$tmp/results/exp/metrics.csv"
expect 0 "wrote $W/R.md" "$MSF" report --results-dir "$tmp/results" --reported "$tmp/reported.csv" --out "$W/R.md"
grep -q "^## exp" "$W/R.md" || fail "report lacks the experiment"

finish cli_stats_check.sh
