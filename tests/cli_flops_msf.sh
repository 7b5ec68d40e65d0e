#!/bin/sh
# cli_flops_msf.sh: `msf flops` for MSF layouts without weights
# (--residual-model) and from a weight file's layout: the stage costs follow
# DiT's Table 4 count, and the equal-step ratios to DiT-XL/2 of an XL/2, L/2
# and B/2 residual at 250 + 25 steps with guidance (experiments/
# msf_residual_size.yaml quotes them). Run from the repository root by make test.
set -u
MSF=${MSF:-bin/msf}
. tests/testlib.sh

ratio() { "$MSF" flops "$@" | sed -n 's/.*DiT \/ MSF = \([0-9.]*\)x$/\1/p'; }
common="--model DiT-XL/2 --base-steps 250 --residual-steps 25 --cfg-scale 1.5"
for pair in XL/2:2.90:3.07 L/2:3.20:3.39 B/2:3.79:4.06; do
    arch=${pair%%:*} rest=${pair#*:}
    want256=${rest%%:*} want512=${rest#*:}
    got=$(ratio $common --residual-model "DiT-$arch")
    [ "$got" = "$want256" ] || fail "DiT-$arch residual at 256px: DiT / MSF = '$got', expected $want256"
    got=$(ratio $common --residual-model "DiT-$arch" --input-size 64)
    [ "$got" = "$want512" ] || fail "DiT-$arch residual at 512px: DiT / MSF = '$got', expected $want512"
done
# DiT-XL/2 at 16x16 base latents: 28 blocks of 64 tokens, Table 4's count.
expect 0 "stage base       DiT depth 28 hidden 1152 patch 2 on 4x16x16" "$MSF" flops $common --residual-model DiT-B/2
expect 0 "stage residual   DiT depth 12 hidden 768 patch 2 on 8x32x32" "$MSF" flops $common --residual-model DiT-B/2
# The same numbers from a file's layout as from its weights' configs.
expect 0 "DiT / MSF = 2.92x" "$MSF" flops --weights models/fmnist_msf_area_bilinear.h5 --base-steps 100 \
    --residual-steps 10 --cfg-scale 1.5
expect 2 "unknown DiT config" "$MSF" flops $common --residual-model DiT-Q/2
expect 2 "usage" "$MSF" flops --residual-model DiT-B/2
expect 2 "not a multiple" "$MSF" flops $common --residual-model DiT-B/2 --input-size 33
expect 2 "" "$MSF" flops $common --residual-model DiT-B/2 --scale 1
finish cli_flops_msf
