#!/bin/sh
# train_fmnist.sh: the exact commands that train the Fashion-MNIST demo models
# (issue 9): a class-conditional pixel-space DiT baseline (1x32x32, patch 4,
# 64 tokens) and MSF (s = 2, 2 levels): a base DiT on the 16x16 area-pooled
# image (patch 4, 16 tokens: the same network family at a quarter of the
# tokens) and a residual DiT at 32x32 for each up operator (bilinear, the
# default, and nearest). Every network: depth 4, hidden 128, 4 heads, learned
# sigma, AdamW lr 3e-4, batch 128, EMA 0.999, label dropout 0.1, seed 0.
#
# Usage: tools/demo/train_fmnist.sh [RUN_DIR [MODEL...]]
#   RUN_DIR  default runs/fmnist
#   MODEL    dit | base | residual_bilinear | residual_nearest (default: all, in order)
# Each run resumes from RUN_DIR/<model>/checkpoint.pt when it exists, so the
# script can be killed and restarted (the result is the same: data order and
# noise are functions of the seed and step). Two lanes on a 2-core machine:
#   THREADS=1 train_fmnist.sh runs/fmnist dit residual_nearest &
#   THREADS=1 train_fmnist.sh runs/fmnist base residual_bilinear
# Exports: RUN_DIR/dit.h5, and RUN_DIR/msf_area_bilinear.h5 /
# msf_area_nearest.h5 once the base and that residual are both trained:
# the raw weights (EXPORT_WEIGHTS=model; the EMA at decay 0.999 still holds
# 0.999^2000 = 13.5% of the initial weights after 2,000 steps) stored as
# float16 (EXPORT_DTYPE; the four committed files fit in 13 MB).
# STEPS (default 2000) sets the total steps of every model named. The files
# in models/: base, residual_bilinear and residual_nearest at STEPS=2000; the
# DiT at 9,000 steps (STEPS=2000; resumed with STEPS=8000 and stopped at the
# step-3250 checkpoint; resumed with STEPS=20000 THREADS=2 and stopped at the
# step-6250 checkpoint; resumed again the same way and stopped at the
# step-9000 checkpoint, then exported with
#   train.py --export-dit runs/fmnist/dit/checkpoint.pt models/fmnist_dit.h5 \
#       --export-weights model --export-dtype float16
# with a constant learning rate that is the run STEPS=9000 gives). Logs:
# models/fmnist_dit.log, models/fmnist_msf_*.log. Resuming replays the same
# data order and noise; PyTorch's CPU kernels may still round differently
# with another thread count (steps 1-3250 used 1 thread, 3251-9000 two).
# The DiT took about 6 hours of wall time on this 2-core CPU in all (the
# log's timestamps; often sharing the CPU with other work), far more than the
# hour the demo models were sized for. At step 6250 its EMA weights were still
# worse than the raw ones (100 steps, guidance 1.5, 300 samples: class
# consistency 0.54 against 0.61, FD 86 against 70).
# On a CUDA machine train.py picks the GPU by itself (--device auto).
set -eu
RUN=${1:-runs/fmnist}
[ $# -gt 0 ] && shift
MODELS=${*:-dit base residual_bilinear residual_nearest}
PY=${PY:-/usr/bin/python3}
DATA=${MSF_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
STEPS=${STEPS:-2000}
EXPORT="--export-weights ${EXPORT_WEIGHTS:-model} --export-dtype ${EXPORT_DTYPE:-float16}"
COMMON="--data $DATA --split train --steps $STEPS --batch 128 --lr 3e-4 --ema 0.999
        --class-dropout 0.1 --depth 4 --hidden 128 --heads 4 --patch 4 --threads ${THREADS:-2}
        --seed 0 --log-every 50 --ckpt-every 250"
MSF="--scale 2 --levels 2 --down area"
# resume DIR: --resume when DIR holds a checkpoint
resume() { [ -f "$1/checkpoint.pt" ] && echo --resume || true; }
# export_msf UP: the MSF file of the base and the UP residual, when both are done
export_msf() {
    b="$RUN/base/checkpoint.pt" r="$RUN/residual_$1/checkpoint.pt"
    if [ -f "$RUN/base/done" ] && [ -f "$RUN/residual_$1/done" ]; then
        $PY tools/train.py --export-msf "$b" "$r" "$RUN/msf_area_$1.h5" $EXPORT
    fi
}
mkdir -p "$RUN"
for m in $MODELS; do
    case $m in
    dit)
        $PY tools/train.py --model-type dit $COMMON $(resume "$RUN/dit") --out-dir "$RUN/dit" --out-h5 "$RUN/dit.h5" $EXPORT
        touch "$RUN/dit/done" ;;
    base)
        $PY tools/train.py --model-type msf-base $COMMON $MSF --up bilinear $(resume "$RUN/base") --out-dir "$RUN/base"
        touch "$RUN/base/done"
        export_msf bilinear
        export_msf nearest ;;
    residual_bilinear | residual_nearest)
        up=${m#residual_}
        $PY tools/train.py --model-type msf-residual $COMMON $MSF --up "$up" $(resume "$RUN/$m") --out-dir "$RUN/$m"
        touch "$RUN/$m/done"
        export_msf "$up" ;;
    *) echo "train_fmnist.sh: unknown model $m (dit, base, residual_bilinear, residual_nearest)" >&2; exit 2 ;;
    esac
done
