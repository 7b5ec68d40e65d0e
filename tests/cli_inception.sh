#!/bin/sh
# cli_inception.sh: tools/convert_inception.py on a state_dict with pytorch-fid's
# keys (a random FIDInceptionV3 from tools/reference/inception.py saved as
# .pth, as pt_inception-2015-12-05-6726825d.pth is one; the real file cannot
# be downloaded here): the HDF5 tensors equal the input, the kept/dropped
# tensors and the attributes (model, format_version, source, sha256), then
# `msf info` reads it; a missing, mis-shaped or unexpected tensor, a wrapped
# dict and a non-torch file fail naming the problem and leave no file; then
# the converted network end to end through msf features and msf evaluate.
# Run from the repository root by `make test` with MSF set to the binary.
# Needs /usr/bin/python3 with torch, h5py and numpy; skipped without them.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh

if ! "$PY" -c 'import torch, h5py, numpy' >/dev/null 2>&1; then
    skip "cli_inception.sh: the converter check needs $PY with torch, h5py, numpy (make deps-python)"
    finish cli_inception.sh
fi

c=$tmp/conv
mkdir "$c"
if ! "$PY" - "$c" >"$tmp/pylog" 2>&1 <<'EOF'; then
import sys
sys.path.insert(0, "tools")
import torch
from reference.inception import FIDInceptionV3, randomize
sd = randomize(FIDInceptionV3(), 5).state_dict()
assert "fc.bias" in sd and "Conv2d_1a_3x3.bn.num_batches_tracked" in sd
torch.save(sd, f"{sys.argv[1]}/pt_inception.pth")
EOF
    fail "building the test state_dict:"
    sed 's/^/    /' "$tmp/pylog"
    finish cli_inception.sh
fi

expect 0 "wrote $c/inc.h5 (sha256 of the input [0-9a-f]\{64\})" "$PY" tools/convert_inception.py "$c/pt_inception.pth" "$c/inc.h5"
expect 0 "model = inception" "$MSF" info "$c/inc.h5"
expect 0 "fc.weight \[1008, 2048\] float32" "$MSF" info "$c/inc.h5" --tensor fc.weight

# Contents, and the failures (in one process: each start of torch costs seconds).
if ! "$PY" - "$c" "$tmp/e" >"$tmp/pylog" 2>&1 <<'EOF'; then
import contextlib, hashlib, io, os, sys
sys.path.insert(0, "tools")
import h5py, numpy as np, torch
import convert_inception
d, e = sys.argv[1:]
sd = torch.load(f"{d}/pt_inception.pth")
with h5py.File(f"{d}/inc.h5", "r") as f:
    a = f.attrs
    assert a["model"] == "inception" and a["format_version"] == 1, dict(a)
    assert a["source"] == os.path.abspath(f"{d}/pt_inception.pth"), a["source"]
    assert a["sha256"] == hashlib.sha256(open(f"{d}/pt_inception.pth", "rb").read()).hexdigest()
    names = set()
    f.visititems(lambda k, o: names.add(k) if isinstance(o, h5py.Dataset) else None)
    want = {k for k in sd if not k.endswith("num_batches_tracked") and k != "fc.bias"}
    assert names == want, (sorted(names ^ want))[:5]
    assert len(names) == 471, len(names)  # 94 BasicConv2d x 5 tensors + fc.weight
    for k in want:
        assert f[k].dtype == np.float32 and np.array_equal(f[k][()], sd[k].numpy()), k

def run(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = convert_inception.main(list(args))
    return rc, out.getvalue()

def case(name, obj, msg):
    path = f"{d}/{name}.pth"
    if isinstance(obj, bytes):
        open(path, "wb").write(obj)
    else:
        torch.save(obj, path)
    rc, log = run(path, f"{e}/out.h5")
    assert rc == 1 and msg in log and not os.listdir(e), (name, rc, log, os.listdir(e))

missing = dict(sd)
del missing["Mixed_6d.branch1x1.bn.running_var"]
case("missing", missing, "missing tensor Mixed_6d.branch1x1.bn.running_var")
bad = dict(sd)
bad["Mixed_7c.branch3x3dbl_3b.conv.weight"] = torch.zeros(384, 384, 1, 3)
case("misshaped", bad, "tensor 'Mixed_7c.branch3x3dbl_3b.conv.weight' has shape [384, 384, 1, 3], "
                       "expected [384, 384, 3, 1]")
extra = dict(sd)
extra["AuxLogits.fc.weight"] = torch.zeros(1008, 768)
case("extra", extra, "unexpected tensor AuxLogits.fc.weight")
nan = dict(sd)
nan["fc.weight"] = sd["fc.weight"].clone()
nan["fc.weight"][3, 4] = float("nan")
case("nan", nan, "tensor 'fc.weight' holds NaN or Inf")
case("wrapped", {"state_dict": sd}, "entry 'state_dict' is a OrderedDict, not a tensor: expected a bare state_dict")
case("list", [1, 2], "holds a list, expected a state_dict")
case("garbage", b"this is not a torch file", "convert_inception.py:")
rc, log = run(f"{d}/absent.pth", f"{e}/out.h5")
assert rc == 1 and "No such file" in log and not os.listdir(e), log
EOF
    fail "convert_inception.py contents and errors:"
    sed 's/^/    /' "$tmp/pylog"
fi

# The converted network end to end: `msf features` and `msf evaluate` on two
# small batches of 48x48 RGB images (resized to 299 in ADM's mode): every ADM
# output line, features of the real shapes, and the FID and sFID that
# scipy.linalg.sqrtm gives from the same features (N < dims: both sides
# singular, as ADM's evaluator would see them).
"$PY" - "$tmp" <<'EOF' || fail "cannot write the image batches"
import sys
import numpy as np
r = np.random.default_rng(1)
np.savez(f"{sys.argv[1]}/ref.npz", r.integers(0, 256, (6, 48, 48, 3), dtype=np.uint8))
np.savez(f"{sys.argv[1]}/sam.npz", r.integers(0, 256, (5, 48, 48, 3), dtype=np.uint8))
EOF
expect 0 "6 images, pool 2048, spatial 2023, logits 1008" "$MSF" features "$tmp/ref.npz" --net "$c/inc.h5" --out "$c/fr.h5"
expect 0 "5 images, pool 2048, spatial 2023, logits 1008" "$MSF" features "$tmp/sam.npz" --net "$c/inc.h5" --out "$c/fs.h5"
expect 0 "^FID: " "$MSF" evaluate "$tmp/ref.npz" "$tmp/sam.npz" --net "$c/inc.h5" --json "$c/m.json"
for l in "Inception Score: " "FID: " "sFID: " "Precision: " "Recall: "; do
    grep -q "^$l" "$tmp/log" || fail "evaluate with Inception lacks '$l'"
done
if ! "$PY" - "$c" >"$tmp/pylog" 2>&1 <<'EOF'; then
import json, sys
import h5py, numpy as np, scipy.linalg
c = sys.argv[1]
def stats(path, name):
    x = h5py.File(path, "r")[name][()].astype(np.float64)
    return x.mean(0), np.cov(x, rowvar=False)
def fid(a, b):
    (m1, s1), (m2, s2) = a, b
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))
f = h5py.File(f"{c}/fs.h5", "r")
assert f["pool_3"].shape == (5, 2048) and f["spatial"].shape == (5, 2023) and f["logits"].shape == (5, 1008)
m = json.load(open(f"{c}/m.json"))
for key, name in (("fid", "pool_3"), ("sfid", "spatial")):
    want = fid(stats(f"{c}/fr.h5", name), stats(f"{c}/fs.h5", name))
    assert abs(m[key] - want) <= 1e-6 * abs(want), (key, m[key], want)
print("fid", m["fid"], "sfid", m["sfid"])
EOF
    fail "FID/sFID from Inception features vs scipy:"
    sed 's/^/    /' "$tmp/pylog"
fi

finish cli_inception.sh
