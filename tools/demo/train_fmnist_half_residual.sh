#!/bin/sh
# train_fmnist_half_residual.sh: a half-width Fashion-MNIST area/bilinear
# residual (issue 22, item 4: "a lightweight residual"): hidden 64, 2 heads
# (head size 32 as the demo's 128/4), depth 4, patch 4; everything else as the
# demo residual (tools/demo/train_fmnist.sh: AdamW lr 3e-4, batch 128, EMA
# 0.999, label dropout 0.1, learned sigma, seed 0), trained from scratch for
# the unaugmented parity residual's 6,000 steps (the same samples seen; about
# a quarter of its compute per step: 0.0151 against 0.0555 forward GFLOPs per
# sample). It pairs with the parity base (step 12,000).
#
# Usage: tools/demo/train_fmnist_half_residual.sh RUN_DIR [export BASE_CKPT OUT.h5]
#   RUN_DIR/residual_bilinear_half/checkpoint.pt is resumed when it exists.
#   export: the MSF file of BASE_CKPT (the parity base: its run's
#   ckpt_0012000.pt, or models/fmnist_msf_area_bilinear.h5, whose base is
#   those weights in float16) and this run's step-6,000 checkpoint, raw
#   weights in float16 as the demo models.
# THREADS (default 1) sets torch's threads.
set -eu
RUN=${1:?usage: train_fmnist_half_residual.sh RUN_DIR [export BASE_CKPT OUT.h5]}
PY=${PY:-/usr/bin/python3}
DATA=${MSF_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
DIR=$RUN/residual_bilinear_half
if [ "${2:-}" = export ]; then
    exec $PY tools/train.py --export-msf "${3:?base checkpoint}" "$DIR/ckpt_0006000.pt" "${4:?output .h5}" \
        --export-weights model --export-dtype float16
fi
START=
[ -f "$DIR/checkpoint.pt" ] && START=--resume
mkdir -p "$RUN"
$PY tools/train.py --model-type msf-residual --data "$DATA" --split train --batch 128 --lr 3e-4 --ema 0.999 \
    --class-dropout 0.1 --depth 4 --hidden 64 --heads 2 --patch 4 --threads "${THREADS:-1}" --seed 0 \
    --log-every 50 --ckpt-every 250 --scale 2 --levels 2 --down area --up bilinear \
    --steps 6000 --milestone-steps 3000,6000 $START --out-dir "$DIR"
