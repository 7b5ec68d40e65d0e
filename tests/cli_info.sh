#!/bin/sh
# cli_info.sh: `msf` dispatch, --help, and `msf info` on good and bad files.
# Run from the repository root by `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
FIX=tests/golden/weights_fixture.h5
. tests/testlib.sh

expect 0 "usage: msf" "$MSF" --help
expect 0 "info" "$MSF" --help
expect 0 "msf 0" "$MSF" --version
expect 2 "usage: msf" "$MSF"
expect 2 "no such command 'frobnicate'" "$MSF" frobnicate
expect 0 "usage: msf info" "$MSF" info --help
expect 0 "usage: msf info" "$MSF" help info
expect 2 "usage: msf info" "$MSF" info

expect 0 "x_embedder.proj.weight  *\[8, 4, 2, 2\] *float32" "$MSF" info $FIX
expect 0 "learn_sigma = 1" "$MSF" info $FIX
expect 0 "5 tensors, 381 values" "$MSF" info $FIX
expect 0 "min -1  max 30.75  mean 14.875" "$MSF" info $FIX --tensor x_embedder.proj.weight
expect 0 "\[1, 4, 8\] float64" "$MSF" info $FIX --tensor pos_embed --shape 1,-1,8

expect 1 "cannot open HDF5 file $tmp/missing.h5: No such file" "$MSF" info "$tmp/missing.h5"
echo "not hdf5" >"$tmp/text.h5"
expect 1 "$tmp/text.h5 is not an HDF5 file" "$MSF" info "$tmp/text.h5"
head -c 1200 $FIX >"$tmp/truncated.h5"
expect 1 "$tmp/truncated.h5" "$MSF" info "$tmp/truncated.h5"
expect 1 "tensor 'blocks.0.mlp.fc1.weight' not found in $FIX" "$MSF" info $FIX --tensor blocks.0.mlp.fc1.weight
expect 1 "has shape \[8, 4, 2, 2\], expected \[8, 4, 3, 3\]" "$MSF" info $FIX --tensor x_embedder.proj.weight --shape 8,4,3,3
expect 2 "not a comma-separated" "$MSF" info $FIX --tensor pos_embed --shape 1,x

finish cli_info.sh
