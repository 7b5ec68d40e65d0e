#!/bin/sh
# cli_eval.sh: `msf features`, `msf stats` and `msf evaluate` end to end with
# the tiny Fashion-MNIST classifier (tests/golden/classifier_tiny.h5) as the
# feature network: images (.npz with labels, PNG folder, IDX) -> features file ->
# statistics file, the same statistics and FID whichever way, statistics that
# numpy reads and agree with np.cov, ADM-style output lines and JSON; and bad
# inputs (missing, corrupt, truncated, wrong shapes, mismatched dimensions,
# NaN statistics, images without a network) -> exit 1, a message, no output
# file. Inception end to end is left to make check-full (no small weights).
# Run from the repository root by `make test` with MSF set to the binary;
# needs /usr/bin/python3 with numpy, h5py and PIL to write inputs.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
NET="--net tests/golden/classifier_tiny.h5"
. tests/testlib.sh

if ! "$PY" -c "import numpy, h5py, PIL" 2>/dev/null; then
    skip "cli_eval.sh: needs /usr/bin/python3 with numpy, h5py, PIL (make deps-python)"
    finish cli_eval.sh
fi

# Inputs: 40 reference and 30 sample 28x28 grey images (the sample with
# labels in arr_1), the sample also as a PNG folder and as IDX files (images
# and labels, as Fashion-MNIST ships them), and bad files.
"$PY" - "$tmp" <<'PYEOF'
import os, sys
import numpy as np
from PIL import Image
t = sys.argv[1]
r = np.random.default_rng(0)
ref = r.integers(0, 256, (40, 28, 28), dtype=np.uint8)
sam = np.clip(ref[:30].astype(int) + r.integers(-40, 40, (30, 28, 28)), 0, 255).astype(np.uint8)
np.savez(f"{t}/ref.npz", ref)
labels = r.integers(0, 7, 30)
np.savez(f"{t}/sam.npz", sam[..., None], labels)
import gzip, struct
with gzip.open(f"{t}/sam-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 30, 28, 28) + sam.tobytes())
with gzip.open(f"{t}/sam-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 30) + labels.astype(np.uint8).tobytes())
os.mkdir(f"{t}/png")
for i, im in enumerate(sam):
    Image.fromarray(im, "L").save(f"{t}/png/{i:03d}.png")
np.savez(f"{t}/flat.npz", np.zeros((4, 5), np.uint8))
np.savez(f"{t}/five.npz", mu=np.zeros(5), sigma=np.eye(5))
np.savez(f"{t}/nan.npz", mu=np.full(12, np.nan), sigma=np.eye(12))
open(f"{t}/corrupt.npz", "wb").write(r.integers(0, 256, 3000, dtype=np.uint8).tobytes())
import h5py
with h5py.File(f"{t}/nanfeat.h5", "w") as f:
    x = r.standard_normal((10, 12)).astype(np.float32)
    x[2, 3] = np.nan
    f["pool_3"] = x
for d in ("pngbad", "pngmix"):
    os.mkdir(f"{t}/{d}")
    for i in range(3):
        Image.fromarray(sam[i], "L").save(f"{t}/{d}/{i:03d}.png")
png = open(f"{t}/pngbad/001.png", "rb").read()
open(f"{t}/pngbad/001.png", "wb").write(png[: len(png) // 2])
Image.fromarray(ref[0, :26], "L").save(f"{t}/pngmix/002.png")
open(f"{t}/junk.h5", "wb").write(r.integers(0, 256, 5000, dtype=np.uint8).tobytes())
data = open(f"{t}/ref.npz", "rb").read()
open(f"{t}/trunc.npz", "wb").write(data[: len(data) // 2])
PYEOF

W=$tmp/w
expect 0 "30 images, pool 12" "$MSF" features "$tmp/sam.npz" $NET --out "$W/f.h5"
expect 0 "" "$MSF" stats "$W/f.h5" --out "$W/s_feat.npz"
expect 0 "mu/sigma of dim 12" "$MSF" stats "$tmp/sam.npz" $NET --out "$W/s_img.npz"
expect 0 "" "$MSF" stats "$tmp/ref.npz" $NET --out "$W/r.npz"
if ! "$PY" - "$W" <<'PYEOF'
import sys
import h5py, numpy as np
w = sys.argv[1]
f = h5py.File(f"{w}/f.h5", "r")
x = f["pool_3"][()].astype(np.float64)
assert f["logits"].shape == (30, 7) and f["labels"].shape == (30,), "features file shapes"
assert f.attrs["network"] == "fmnist_classifier" and int(f.attrs["count"]) == 30
a, b = np.load(f"{w}/s_feat.npz"), np.load(f"{w}/s_img.npz")
assert sorted(a.keys()) == ["mu", "sigma"] and a["sigma"].dtype == np.float64
assert np.array_equal(a["mu"], b["mu"]) and np.array_equal(a["sigma"], b["sigma"]), "stats differ by input"
assert np.allclose(a["mu"], x.mean(0), rtol=1e-12, atol=0), "mu != numpy"
assert np.allclose(a["sigma"], np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12), "sigma != numpy"
PYEOF
then fail "features/stats files do not match numpy"; fi

# The same FID from images, from PNGs, from features and from statistics.
expect 0 "^FID: " "$MSF" evaluate "$tmp/ref.npz" "$tmp/sam.npz" $NET --kid --json "$W/m.json"
grep '^FID: ' "$tmp/log" >"$W/fid_img"
for l in "Inception Score: " "Precision: " "Recall: " "KID: " "Class consistency: "; do
    grep -q "^$l" "$tmp/log" || fail "evaluate output lacks '$l'"
done
expect 0 "^FID: " "$MSF" evaluate "$tmp/ref.npz" "$tmp/png" $NET
grep '^FID: ' "$tmp/log" | cmp -s - "$W/fid_img" || fail "FID from the PNG folder differs"
expect 0 "^FID: " "$MSF" evaluate "$tmp/ref.npz" "$tmp/sam-images-idx3-ubyte.gz" $NET
grep '^FID: ' "$tmp/log" | cmp -s - "$W/fid_img" || fail "FID from the IDX file differs"
grep -q '^Class consistency: ' "$tmp/log" || fail "IDX input: labels file beside it not read"
expect 0 "^FID: " "$MSF" evaluate "$W/r.npz" "$W/f.h5"
grep '^FID: ' "$tmp/log" | cmp -s - "$W/fid_img" || fail "FID from statistics and features differs"
grep -q "Precision unavailable" "$tmp/log" || fail "statistics input: precision not reported unavailable"
if ! "$PY" - "$W" <<'PYEOF'
import json, sys
m = json.load(open(f"{sys.argv[1]}/m.json"))
fid = float(open(f"{sys.argv[1]}/fid_img").read().split()[1])
assert m["fid"] == fid and m["sfid"] is None and 0 <= m["precision"] <= 1 and m["kid"] is not None
PYEOF
then fail "metrics JSON"; fi

# Bad inputs: exit 1, a message, nothing written.
E=$tmp/e
expect_err 1 "cannot open" "$MSF" features "$tmp/missing.npz" $NET --out "$E/f.h5"
expect_err 1 "as .npz" "$MSF" stats "$tmp/corrupt.npz" $NET --out "$E/s.npz"
expect_err 1 "as .npz" "$MSF" evaluate "$tmp/trunc.npz" "$tmp/sam.npz" $NET --json "$E/m.json"
expect_err 1 "arr_0 must be uint8 images" "$MSF" features "$tmp/flat.npz" $NET --out "$E/f.h5"
expect_err 1 "cannot read .*001.png as PNG" "$MSF" features "$tmp/pngbad" $NET --out "$E/f.h5"
expect_err 1 "002.png is 26x28, but .*000.png is 28x28" "$MSF" stats "$tmp/pngmix" $NET --out "$E/s.npz"
expect_err 1 "junk.h5 is not an HDF5 file" "$MSF" evaluate "$tmp/junk.h5" "$W/f.h5" --json "$E/m.json"
head -c 3000 "$W/f.h5" >"$tmp/trunc.h5"
expect_err 1 "trunc.h5" "$MSF" evaluate "$W/r.npz" "$tmp/trunc.h5" --json "$E/m.json"
head -c 2000 "$tmp/sam-images-idx3-ubyte.gz" >"$tmp/cut-images-idx3-ubyte.gz"
expect_err 1 "cut-images-idx3-ubyte.gz" "$MSF" features "$tmp/cut-images-idx3-ubyte.gz" $NET --out "$E/f.h5"
expect_err 1 "different dimensions" "$MSF" evaluate "$tmp/five.npz" "$W/s_feat.npz" --json "$E/m.json"
expect_err 1 "mu.* element 0 is nan" "$MSF" evaluate "$tmp/nan.npz" "$W/s_feat.npz" --json "$E/m.json"
expect_err 1 "row 2, column 3 is nan" "$MSF" evaluate "$W/r.npz" "$tmp/nanfeat.h5" --json "$E/m.json"
expect_err 2 "holds images: a feature network (--net W.h5) is needed for them" "$MSF" evaluate "$W/r.npz" "$tmp/sam.npz" --json "$E/m.json"
expect_err 1 "" "$MSF" features "$tmp/sam.npz" --net tests/golden/vae_tiny.h5 --out "$E/f.h5"
expect_err 2 "resize mode" "$MSF" stats "$tmp/sam.npz" $NET --resize cubic --out "$E/s.npz"
expect_err 2 "required" "$MSF" evaluate "$tmp/sam.npz"

finish cli_eval.sh
