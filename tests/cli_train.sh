#!/bin/sh
# cli_train.sh: tools/train.py smoke test: each model type (dit, msf-base,
# msf-residual) trains 2 steps of a tiny config, exports our HDF5 format, and
# `msf info` reads the exported DiT and MSF files.
# Run from the repository root by `make test` with MSF set to the binary.
# Needs /usr/bin/python3 with torch, h5py and numpy (CI: make deps-python);
# without them it prints a skip line and passes. Data: Fashion-MNIST's t10k
# split when /usr/share/datasets/fashion-mnist holds it (Debian package
# dataset-fashion-mnist; MSF_FASHION_MNIST overrides the directory), else 64
# random 1x32x32 "latents" written on the fly.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh
if ! "$PY" -c 'import torch, h5py, numpy' >/dev/null 2>&1; then
    skip "cli_train.sh: no $PY with torch, h5py and numpy (make deps-python)"
    finish cli_train.sh
fi

FASHION=${MSF_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
if [ -f "$FASHION/t10k-images-idx3-ubyte.gz" ]; then
    DATA="--data $FASHION --split t10k"
else
    echo "cli_train.sh: no Fashion-MNIST in $FASHION: random latents"
    "$PY" - "$tmp/latents.h5" <<'EOF' || fail "cannot write $tmp/latents.h5"
import sys
import h5py
import numpy as np
rng = np.random.default_rng(0)
with h5py.File(sys.argv[1], "w") as f:
    f["latents"] = rng.standard_normal((64, 1, 32, 32)).astype(np.float32)
    f["labels"] = rng.integers(0, 10, 64)
    f.attrs["num_classes"] = 10
EOF
    DATA="--data $tmp/latents.h5"
fi
# Both data sources give 1 channel at 32x32 and 10 classes.
TRAIN="$PY tools/train.py $DATA --steps 2 --batch 4 --depth 1 --hidden 32 --heads 2 --patch 2 --log-every 1
       --threads 2 --residual-scale-samples 256"

# -----------------------------------------------------------------------------
# 1. Train and export.
expect 0 "wrote DiT file $tmp/dit.h5" $TRAIN --model-type dit --out-dir "$tmp/dit" --out-h5 "$tmp/dit.h5"
expect 0 "step       2  loss" cat "$tmp/dit/log.txt"
expect 0 "wrote DiT file $tmp/base_dit.h5" \
    $TRAIN --model-type msf-base --out-dir "$tmp/base" --out-h5 "$tmp/base_dit.h5"
expect 0 "wrote MSF file $tmp/msf.h5" $TRAIN --model-type msf-residual --out-dir "$tmp/res" \
    --base-ckpt "$tmp/base/checkpoint.pt" --out-h5 "$tmp/msf.h5"
expect 0 "wrote $tmp/msf2.h5" $PY tools/train.py --export-msf "$tmp/base/checkpoint.pt" "$tmp/res/checkpoint.pt" \
    "$tmp/msf2.h5"
expect 1 "needs --base-ckpt" $TRAIN --model-type msf-residual --out-dir "$tmp/res_bad" --out-h5 "$tmp/bad.h5"

# -----------------------------------------------------------------------------
# 2. The C side reads the exports.
expect 0 "model = dit" "$MSF" info "$tmp/dit.h5"
expect 0 "x_embedder.proj.weight  *\[32, 1, 2, 2\] *float32" "$MSF" info "$tmp/dit.h5"
expect 0 "input_size = 16" "$MSF" info "$tmp/base_dit.h5"
expect 0 "model = msf" "$MSF" info "$tmp/msf.h5"
expect 0 "levels = 2" "$MSF" info "$tmp/msf.h5"
expect 0 "base/x_embedder.proj.weight  *\[32, 1, 2, 2\] *float32" "$MSF" info "$tmp/msf.h5"
expect 0 "residual/x_embedder.proj.weight  *\[32, 2, 2, 2\] *float32" "$MSF" info "$tmp/msf.h5"
expect 0 "residual/final_layer.linear.weight  *\[8, 32\] *float32" "$MSF" info "$tmp/msf.h5"

# -----------------------------------------------------------------------------
# 3. MSF sampling of the exported file in C.
# The exported DiT and MSF sample in C; the MSF sample equals
# tools/reference/msf.py's on the same replayed noise (rel <= 1e-4).
expect 0 "" "$MSF" sample --weights "$tmp/dit.h5" --num 2 --steps 3 --cfg-scale 2 --out "$tmp/dit_s.h5"
expect 0 "latents  *\[2, 1, 32, 32\] *float32" "$MSF" info "$tmp/dit_s.h5"
expect 0 "" "$MSF" sample --weights "$tmp/msf.h5" --num 2 --base-steps 3 --residual-steps 2 --cfg-scale 2 \
    --residual-cfg-scale 1 --out "$tmp/msf_s.h5"
expect 0 "base  *\[2, 1, 16, 16\] *float32" "$MSF" info "$tmp/msf_s.h5"
expect 0 "non-finite 0" "$MSF" info "$tmp/msf_s.h5" --tensor latents
cat >"$tmp/ref.py" <<'EOF'
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, "tools")
from hdf5_msf import load_msf_reference  # noqa: E402
from reference.msf import Stage  # noqa: E402

tmp = sys.argv[1]
model = load_msf_reference(f"{tmp}/msf.h5")
stages = [Stage("3", cfg_scale=2.0), Stage("2", cfg_scale=1.0)]
labels = torch.tensor([3, 7])
rng = np.random.default_rng(0)
noises = [tuple(rng.standard_normal(s).astype(np.float32) for s in shape) for shape in model.noise_shapes(2, stages)]
with h5py.File(f"{tmp}/noise.h5", "w") as f:
    for name, (x_T, z) in zip(["base", "residual"], noises):
        f[f"{name}/x_T"], f[f"{name}/z"] = x_T, z
with torch.no_grad():
    want = model.sample(labels, stages, noises)["out"].numpy()
np.save(f"{tmp}/want.npy", want)
print("reference MSF sample written")
EOF
cat >"$tmp/cmp.py" <<'EOF'
import sys

import h5py
import numpy as np

got = h5py.File(sys.argv[1] + "/msf_replay.h5", "r")["latents"][:]
want = np.load(sys.argv[1] + "/want.npy")
rel = np.abs(got - want).max() / np.abs(want).max()
print(f"C vs reference MSF sample: rel {rel:.3g}")
sys.exit(0 if rel <= 1e-4 else 1)
EOF
expect 0 "reference MSF sample written" $PY "$tmp/ref.py" "$tmp"
expect 0 "" "$MSF" sample --weights "$tmp/msf.h5" --num 2 --base-steps 3 --residual-steps 2 --cfg-scale 2 \
    --residual-cfg-scale 1 --labels 3,7 --noise-file "$tmp/noise.h5" --out "$tmp/msf_replay.h5"
expect 0 "C vs reference MSF sample: rel" $PY "$tmp/cmp.py" "$tmp"

# -----------------------------------------------------------------------------
# 4. Half-precision export (the committed demo weights): float16 datasets, the
# C loader widens them, and the sample equals the reference's from the same
# file; the tensors are the float32 ones rounded to half.
expect 0 "wrote $tmp/msf16.h5" $PY tools/train.py --export-msf "$tmp/base/checkpoint.pt" "$tmp/res/checkpoint.pt" \
    "$tmp/msf16.h5" --export-dtype float16
expect 0 "base/x_embedder.proj.weight  *\[32, 1, 2, 2\] *float16" "$MSF" info "$tmp/msf16.h5"
cp "$tmp/msf16.h5" "$tmp/msf.h5"
expect 0 "reference MSF sample written" $PY "$tmp/ref.py" "$tmp"
expect 0 "" "$MSF" sample --weights "$tmp/msf.h5" --num 2 --base-steps 3 --residual-steps 2 --cfg-scale 2 \
    --residual-cfg-scale 1 --labels 3,7 --noise-file "$tmp/noise.h5" --out "$tmp/msf_replay.h5"
expect 0 "C vs reference MSF sample: rel" $PY "$tmp/cmp.py" "$tmp"
expect 0 "float16 = float32 rounded" $PY -c "
import h5py, numpy as np
a = h5py.File('$tmp/msf2.h5', 'r')['residual/blocks.0.mlp.fc1.weight'][:]
b = h5py.File('$tmp/msf16.h5', 'r')['residual/blocks.0.mlp.fc1.weight'][:]
assert b.dtype == np.float16 and np.array_equal(a.astype(np.float16), b)
print('float16 = float32 rounded')"
expect 1 "expected float32 or float16" $PY -c "
import sys; sys.path.insert(0, 'tools')
import h5py, torch
from hdf5_dit import write_dit_group
write_dit_group(h5py.File('$tmp/bad16.h5', 'w'), {'w': torch.zeros(2)}, {}, '', 'bfloat16')"

# -----------------------------------------------------------------------------
# 5. Training compute (issue 16): train.py's forward GFLOPs per sample equal
# `msf flops`'s (the C count in src/models/dit.c) for the demo DiT and both MSF
# stages; the log counts train_GFLOPs = steps x batch x forward GFLOPs; a run
# started from an exported file (--init-from, --init-step) continues the count
# and the data order, keeps its milestone checkpoints, and refuses a file of
# another network.
cat >"$tmp/flops.py" <<'EOF'
import re
import subprocess
import sys

import h5py

sys.path.insert(0, "tools")
from hdf5_dit import read_dit_group  # noqa: E402
from train import forward_gflops  # noqa: E402

msf = sys.argv[1]
worst = 0.0
for path, group, pattern in (("models/fmnist_dit.h5", None, r"forward: ([0-9.]+) GFLOPs per sample"),
                             ("models/fmnist_msf_area_bilinear.h5", "base", r"stage base .*: ([0-9.]+) GFLOPs per forw"),
                             ("models/fmnist_msf_area_bilinear.h5", "residual",
                              r"stage residual .*: ([0-9.]+) GFLOPs per forw")):
    out = subprocess.run([msf, "flops", "--weights", path], capture_output=True, text=True, check=True).stdout
    c_value = float(re.search(pattern, out).group(1))
    with h5py.File(path, "r") as f:
        config, _ = read_dit_group(f[group] if group else f)
    py_value = forward_gflops(config)
    rel = abs(c_value - py_value) / c_value
    worst = max(worst, rel)
    print(f"{path}:{group or '/'}: msf flops {c_value} GFLOPs per forward, train.py {py_value:.6g}")
print(f"forward GFLOPs agree: worst rel {worst:.2g}")
# msf flops prints 5 significant digits.
sys.exit(0 if worst < 1e-4 else 1)
EOF
expect 0 "forward GFLOPs agree" $PY "$tmp/flops.py" "$MSF"
# The tiny DiT: 0.007455744 GFLOPs per forward x batch 4 x 2 steps.
expect 0 "step       2 .* train_GFLOPs 0.059646" cat "$tmp/dit/log.txt"
expect 0 "initialised from $tmp/dit.h5 .* as step 2" \
    $TRAIN --model-type dit --out-dir "$tmp/init" --init-from "$tmp/dit.h5" --init-step 2 --steps 4 \
    --milestone-steps 3 --warmup-steps 2
expect 0 "step       4 .* train_GFLOPs 0.119292" cat "$tmp/init/log.txt"
expect 0 "milestone: kept $tmp/init/ckpt_0000003.pt (step 3, training GFLOPs 0.0894689)" cat "$tmp/init/log.txt"
[ -f "$tmp/init/ckpt_0000003.pt" ] && [ ! -f "$tmp/init/ckpt_0000002.pt" ] || fail "milestone checkpoint 3 only"
# Started from the file: its weights are the run's weights before the first step.
expect 0 "init = export" $PY -c "
import sys; sys.path.insert(0, 'tools')
import h5py, torch
from hdf5_dit import read_dit_group
from train import read_init_weights
c, s, m = read_init_weights('$tmp/dit.h5', 'dit')
_, want = read_dit_group(h5py.File('$tmp/dit.h5', 'r'))
assert m is None and all(torch.equal(s[k], want[k]) for k in want)
print('init = export')"
# The residual takes the file's residual_scale, not one measured again.
expect 0 "initialised from $tmp/msf.h5" $TRAIN --model-type msf-residual --out-dir "$tmp/init_r" \
    --init-from "$tmp/msf.h5" --init-step 2 --steps 3
expect 0 "scale equal" $PY -c "
import h5py, torch
want = float(h5py.File('$tmp/msf.h5', 'r')['residual'].attrs['residual_scale'])
got = torch.load('$tmp/init_r/checkpoint.pt')['msf']['residual_scale']
assert got == want, (got, want)
print('scale equal')"
expect 1 "is not the one the arguments describe" \
    $TRAIN --model-type dit --out-dir "$tmp/init_bad" --init-from "$tmp/dit.h5" --init-step 2 --steps 3 --hidden 64
expect 1 "cannot start a msf-residual run" \
    $TRAIN --model-type msf-residual --out-dir "$tmp/init_bad" --init-from "$tmp/dit.h5" --steps 3
expect 1 "cannot open as HDF5" \
    $TRAIN --model-type dit --out-dir "$tmp/init_bad" --init-from "$tmp/missing.h5" --steps 3
expect 2 "needs --init-from" $TRAIN --model-type dit --out-dir "$tmp/init_bad" --init-step 2 --steps 3

finish cli_train.sh
