#!/bin/sh
# train_fmnist_cond_aug.sh: the Fashion-MNIST area/bilinear residual with
# conditioning augmentation (issue 22), at the training compute of the
# unaugmented parity residual (models/fmnist_msf_parity_residual_bilinear.log).
#
# A controlled pair: this run starts where the unaugmented one started (the
# 2,000-step residual, models/milestones/fmnist_msf_area_bilinear_b2000_r2000.h5,
# as step 2,000, fresh AdamW moments, 100-step warm-up) and trains the same
# 4,000 steps on the same data order, t, eps and label dropout
# (tools/train.py draws the augmentation from its own generator). The one
# difference: each item's condition U(base) is noised to a level s uniform in
# 0..COND_AUG_MAX (default 100: abar = 0.897, noise std 0.32 at the top) and s
# reaches the network through a second timestep embedder whose output layer
# starts at zero (so step 2,000 is the same function as the unaugmented one).
# The embedder adds 0.09% to the forward FLOPs (counted in train_GFLOPs).
#
# Usage: tools/demo/train_fmnist_cond_aug.sh RUN_DIR [export BASE_CKPT OUT.h5]
#   RUN_DIR/residual_bilinear_aug/checkpoint.pt is resumed when it exists.
#   export: the MSF file of BASE_CKPT (the parity base, step 12,000) and this
#   run's step-6,000 checkpoint, raw weights in float16 as the demo models.
# THREADS (default 1) sets torch's threads.
set -eu
RUN=${1:?usage: train_fmnist_cond_aug.sh RUN_DIR [export BASE_CKPT OUT.h5]}
PY=${PY:-/usr/bin/python3}
DATA=${MSF_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
DIR=$RUN/residual_bilinear_aug
if [ "${2:-}" = export ]; then
    exec $PY tools/train.py --export-msf "${3:?base checkpoint}" "$DIR/ckpt_0006000.pt" "${4:?output .h5}" \
        --export-weights model --export-dtype float16
fi
if [ -f "$DIR/checkpoint.pt" ]; then
    START=--resume
else
    START="--init-from models/milestones/fmnist_msf_area_bilinear_b2000_r2000.h5 --init-step 2000 --warmup-steps 100"
fi
mkdir -p "$RUN"
$PY tools/train.py --model-type msf-residual --data "$DATA" --split train --batch 128 --lr 3e-4 --ema 0.999 \
    --class-dropout 0.1 --depth 4 --hidden 128 --heads 4 --patch 4 --threads "${THREADS:-1}" --seed 0 \
    --log-every 50 --ckpt-every 250 --scale 2 --levels 2 --down area --up bilinear \
    --cond-aug-max "${COND_AUG_MAX:-100}" --steps 6000 --milestone-steps 3000,4500,6000 $START --out-dir "$DIR"
