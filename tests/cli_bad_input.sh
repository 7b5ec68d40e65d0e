#!/bin/sh
# cli_bad_input.sh: hostile and damaged inputs (issue 20). Every size read
# from a file is checked against the file's real size and a stated limit
# before anything is allocated, so a header that lies ends in a clean error
# naming the file and the field, exit 1 and no output file, never a huge
# allocation (under `make test SANITIZE=1`, ASan would abort on one: its
# allocator refuses requests over its limit).
# Classes: IDX headers claiming terabytes (gzip and plain), an .npz whose
# .npy header's shape overflows or passes the limit, PNG headers over the
# side limit or beyond the file's bytes, an HDF5 dataset whose
# extent the file does not store (chunked, compressed, never written);
# non-finite and out-of-range inputs of msf forward; missing files named by
# their kind (noise, latents, features, input file).
# Run from the repository root by `make test` with MSF set to the binary;
# needs /usr/bin/python3 with numpy and h5py to write the inputs.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
NET="--net tests/golden/classifier_tiny.h5"
. tests/testlib.sh

if ! "$PY" -c "import numpy, h5py" 2>/dev/null; then
    skip "cli_bad_input.sh: needs /usr/bin/python3 with numpy and h5py (make deps-python)"
    finish cli_bad_input.sh
fi

"$PY" - "$tmp" <<'PYEOF'
import gzip, struct, sys, zipfile
import h5py
import numpy as np
t = sys.argv[1]
pix = bytes(range(256)) * 4
# IDX: 4,000,000,000 images of 28x28 (3.1 TB, over the limit); 10,000,000
# (7.8 GB, under it) in a gzip file and in a plain one; 1,000 bytes of data.
for name, count, opener in (("huge-images-idx3-ubyte.gz", 4000000000, gzip.open),
                            ("big-images-idx3-ubyte.gz", 10000000, gzip.open),
                            ("big-images-idx3-ubyte", 10000000, open)):
    with opener(f"{t}/{name}", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, count, 28, 28) + pix[:1000])
# npz: a stored .npy member whose header claims a shape the data does not have.
def npz(path, shape):
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': %s, }" % (shape,)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + pix[:1000]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("arr_0.npy", data)
npz(f"{t}/overflow.npz", (2**40, 2**40, 28, 1))
npz(f"{t}/limit.npz", (2**34, 28, 28, 1))
npz(f"{t}/liar.npz", (10, 28, 28, 1))
# HDF5: a chunked, compressed dataset of 10^10 floats (40 GB), nothing written (a
# few kB on disk); and the same name for a features file.
with h5py.File(f"{t}/sparse.h5", "w") as f:
    f.create_dataset("pool_3", shape=(10**5, 10**5), dtype="f4", chunks=(64, 64), compression="gzip")
with h5py.File(f"{t}/over.h5", "w") as f:
    f.create_dataset("pool_3", shape=(2**40, 2**30), dtype="f4", chunks=(64, 64), compression="gzip")
# PNG: headers claiming 1,000,000 x 1,000,000 (over the side limit) and
# 16,000 x 16,000 pixels (under it, far more than the file's bytes can hold);
# a valid IHDR, one tiny IDAT, IEND.
import os, zlib
def png(path, w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b""))
png(f"{t}/pngwide/000.png", 1000000, 1000000)
png(f"{t}/pngbig/000.png", 16000, 16000)
# msf forward inputs: a NaN in x, a timestep past the 1000-step diffusion.
with h5py.File("tests/golden/dit_cli_fixture.h5", "r") as src:
    x, tt, y = src["x"][()], src["t"][()], src["y"][()]
for name, xx, ttt in (("nan_x", x.copy(), tt), ("t1000", x, np.array([5, 1000, 7], tt.dtype))):
    if name == "nan_x":
        xx.flat[77] = np.nan
    with h5py.File(f"{t}/{name}.h5", "w") as f:
        f["x"], f["t"], f["y"] = xx, ttt, y
# Non-finite values inside valid files: a DiT weight, a VAE weight, the
# replayed noise of msf sample.
import shutil
for src, dst, name in (("tests/golden/dit_tiny.h5", "nan_dit.h5", "sigma/blocks.0.attn.qkv.weight"),
                       ("tests/golden/vae_tiny.h5", "inf_vae.h5", None)):
    shutil.copyfile(src, f"{t}/{dst}")
    with h5py.File(f"{t}/{dst}", "r+") as f:
        if name is None:  # the VAE: its first float tensor, whatever it is named
            names = []
            f.visititems(lambda k, v: names.append(k) if isinstance(v, h5py.Dataset) and v.dtype.kind == "f" else None)
            name = sorted(n for n in names if n.endswith("conv_in.weight"))[0]
            print(name, file=open(f"{t}/inf_vae.name", "w"))
        d = f[name]
        a = d[()]
        a.flat[5] = np.nan if dst.startswith("nan") else np.inf
        d[...] = a
# Finite weights whose output overflows: the sampler names step and sample.
shutil.copyfile("tests/golden/run_pixel_dit.h5", f"{t}/overflow_dit.h5")
with h5py.File(f"{t}/overflow_dit.h5", "r+") as f:
    d = f["final_layer.linear.weight"]
    d[...] = np.full(d.shape, 3e38, d.dtype)
shutil.copyfile("tests/golden/dit_cli_fixture.h5", f"{t}/nan_noise.h5")
with h5py.File(f"{t}/nan_noise.h5", "r+") as f:
    z = f["z"][()]
    z.flat[3] = np.nan
    f["z"][...] = z
PYEOF

E=$tmp/e
expect_err 1 "huge-images-idx3-ubyte.gz: header gives 4000000000 images of 28x28 .* over the limit" \
    "$MSF" features "$tmp/huge-images-idx3-ubyte.gz" $NET --out "$E/f.h5"
expect_err 1 "big-images-idx3-ubyte.gz: truncated or wrong header: 10000000 images of 28x28 need 7840000000 bytes of data, the file has 1000" \
    "$MSF" features "$tmp/big-images-idx3-ubyte.gz" $NET --out "$E/f.h5"
expect_err 1 "big-images-idx3-ubyte: truncated or wrong header: 10000000 images of 28x28 need 7840000000 bytes of data, the file has 1000" \
    "$MSF" stats "$tmp/big-images-idx3-ubyte" $NET --out "$E/s.npz"
expect_err 1 "overflow.npz: array 'arr_0': shape over the size limit (256 GiB)" \
    "$MSF" features "$tmp/overflow.npz" $NET --out "$E/f.h5"
expect_err 1 "limit.npz: array 'arr_0': shape over the size limit (256 GiB)" \
    "$MSF" features "$tmp/limit.npz" $NET --out "$E/f.h5"
expect_err 1 "liar.npz: arr_0.npy holds 1128 bytes, its header says 7968" \
    "$MSF" features "$tmp/liar.npz" $NET --out "$E/f.h5"
expect_err 1 "sparse.h5: tensor 'pool_3': an extent of 10000000000 elements from 0 stored bytes" \
    "$MSF" stats "$tmp/sparse.h5" --out "$E/s.npz"
expect_err 1 "over.h5: tensor 'pool_3': its extent is over the size limit (256 GiB)" \
    "$MSF" evaluate "$tmp/over.h5" "$tmp/sparse.h5" --json "$E/m.json"
expect 1 "sparse.h5: tensor 'pool_3'" "$MSF" info "$tmp/sparse.h5"
expect_err 1 "pngwide/000.png: PNG header gives 1000000x1000000 pixels (sides up to 16384 accepted)" \
    "$MSF" features "$tmp/pngwide" $NET --out "$E/f.h5"
expect_err 1 "pngbig/000.png: PNG header gives 16000x16000 pixels, more than its [0-9]* bytes can hold" \
    "$MSF" features "$tmp/pngbig" $NET --out "$E/f.h5"

# Inputs checked on read; messages name the kind of file.
DIT="--weights tests/golden/dit_tiny.h5 --group sigma"
expect_err 1 "nan_x.h5: dataset 'x' element 77 (sample 0) is nan" "$MSF" forward $DIT --in "$tmp/nan_x.h5" --out "$E/o.h5"
expect_err 1 "t1000.h5: dataset 't' element 1 is 1000 (expected timesteps in 0..999)" \
    "$MSF" forward $DIT --in "$tmp/t1000.h5" --out "$E/o.h5"
expect_err 1 "tensor 'sigma/blocks.0.attn.qkv.weight' in $tmp/nan_dit.h5 holds a non-finite value (nan) at element 5" \
    "$MSF" sample --weights "$tmp/nan_dit.h5" --group sigma --steps 2 --num 2 --out "$E/o.h5"
expect_err 1 "step 1 of 3 (t = 999): the model's output for sample 0 has a non-finite value" \
    "$MSF" sample --weights "$tmp/overflow_dit.h5" --steps 3 --num 2 --out "$E/o.h5"
expect_err 1 "noise file $tmp/nan_noise.h5: z element 3 is nan" \
    "$MSF" sample $DIT --num 2 --steps 10 --cfg-scale 4 --cfg-mode dit3 --labels 5,8 --noise-file "$tmp/nan_noise.h5" --out "$E/o.h5"
expect_err 1 "tensor '.*$(cat "$tmp/inf_vae.name" | sed 's/.*\///')' in $tmp/inf_vae.h5 holds a non-finite value (inf) at element 5" \
    "$MSF" decode tests/golden/vae_tiny.h5 --dataset dec/z --vae "$tmp/inf_vae.h5" --group vae --out "$E/o.npz"
expect_err 1 "cannot open input file $tmp/missing.h5" "$MSF" forward $DIT --in "$tmp/missing.h5" --out "$E/o.h5"
expect_err 1 "cannot open noise file $tmp/missing.h5" \
    "$MSF" sample $DIT --steps 2 --num 2 --noise-file "$tmp/missing.h5" --out "$E/o.h5"
expect_err 1 "cannot open latents file $tmp/missing.h5" \
    "$MSF" decode "$tmp/missing.h5" --vae tests/golden/vae_tiny.h5 --out "$E/o.npz"
expect_err 1 "cannot open reference input $tmp/missing.h5" "$MSF" evaluate "$tmp/missing.h5" "$tmp/liar.npz" --json "$E/m.json"
expect_err 1 "$tmp/liar.npz is not an HDF5 file (expected a noise file)" \
    "$MSF" sample $DIT --steps 2 --num 2 --noise-file "$tmp/liar.npz" --out "$E/o.h5"

# msf run: a point whose model output overflows fails alone; the other point
# is computed, the tables list the failed one, the exit status is 1; once the
# weights are fixed a rerun computes it and reuses the other.
mkdir "$tmp/cfg"
cp "$tmp/overflow_dit.h5" "$tmp/point_dit.h5"
cat >"$tmp/cfg/nanpoint.yaml" <<YAML
experiment: nanpoint
defaults:
  num_samples: 8
  batch: 4
  shard_size: 8
  grid: 4
  sampler: {steps: "3", sampler: ddpm, cfg_mode: all, cfg_scale: 2.0, label_mode: balanced}
  evaluator:
    featnet: $PWD/tests/golden/classifier_tiny.h5
    reference: $PWD/tests/golden/run_reference.npz
    batch: 8
runs:
  - name: bad
    model: {kind: dit, weights: $tmp/point_dit.h5}
  - name: good
    model: {kind: dit, weights: $PWD/tests/golden/run_pixel_dit.h5}
YAML
R=$tmp/w/nanpoint
expect 1 "1 of 2 points failed .* the first, bad: .*step 1 of 3 (t = 999): the model's output for sample 0 has a non-finite value" \
    "$MSF" run "$tmp/cfg/nanpoint.yaml" --results-dir "$R"
grep -q "^- bad: .*non-finite" "$R/nanpoint/table.md" || fail "table.md does not list the failed point"
grep -q '"failed": ".*non-finite' "$R/nanpoint/metrics.json" || fail "metrics.json does not mark the failed point"
[ -f "$R/nanpoint/points/good/point.json" ] || fail "the good point was not completed"
[ ! -f "$R/nanpoint/points/bad/point.json" ] || fail "the failed point has a point.json"
cp tests/golden/run_pixel_dit.h5 "$tmp/point_dit.h5"
expect 0 "good: done before, reused" "$MSF" run "$tmp/cfg/nanpoint.yaml" --results-dir "$R"
[ -f "$R/nanpoint/points/bad/point.json" ] || fail "the rerun did not complete the once-failed point"
grep -q "failed" "$R/nanpoint/table.md" && fail "table.md still lists a failed point after the rerun"

# The probes' other classes: empty, random bytes, truncated, the wrong model,
# absurd flags. Each: a non-zero exit, the file or flag named, nothing written.
: >"$tmp/empty.npz"
: >"$tmp/empty.h5"
: >"$tmp/empty.yaml"
: >"$tmp/empty-images-idx3-ubyte"
mkdir "$tmp/emptypng" "$tmp/randpng"
: >"$tmp/emptypng/000.png"
"$PY" -c "import sys, numpy as np; sys.stdout.buffer.write(np.random.default_rng(7).integers(0, 256, 3000, dtype=np.uint8).tobytes())" >"$tmp/rand.bin"
for x in npz h5 yaml; do cp "$tmp/rand.bin" "$tmp/rand.$x"; done
cp "$tmp/rand.bin" "$tmp/randpng/000.png"
head -c 50000 tests/golden/run_pixel_dit.h5 >"$tmp/trunc_dit.h5"
expect_err 1 "cannot read $tmp/empty.npz as .npz" "$MSF" features "$tmp/empty.npz" $NET --out "$E/f.h5"
expect_err 1 "$tmp/empty.h5 is not an HDF5 file" "$MSF" evaluate "$tmp/empty.h5" "$tmp/liar.npz" --json "$E/m.json"
expect_err 1 "emptypng/000.png as PNG" "$MSF" features "$tmp/emptypng" $NET --out "$E/f.h5"
expect_err 1 "empty-images-idx3-ubyte: truncated: the IDX header needs 4 bytes" \
    "$MSF" features "$tmp/empty-images-idx3-ubyte" $NET --out "$E/f.h5"
expect_err 1 "empty.yaml:1: the file holds no YAML document" "$MSF" run "$tmp/empty.yaml" --results-dir "$E"
expect_err 1 "cannot read $tmp/rand.npz as .npz" "$MSF" stats "$tmp/rand.npz" $NET --out "$E/s.npz"
expect_err 1 "$tmp/rand.h5 is not an HDF5 file" "$MSF" sample --weights "$tmp/rand.h5" --out "$E/o.h5"
expect_err 1 "randpng/000.png as PNG: Not a PNG file" "$MSF" features "$tmp/randpng" $NET --out "$E/f.h5"
expect_err 1 "rand.yaml:1: YAML syntax error" "$MSF" run "$tmp/rand.yaml" --results-dir "$E"
expect_err 1 "cannot read HDF5 file $tmp/trunc_dit.h5 (truncated or corrupt?)" \
    "$MSF" sample --weights "$tmp/trunc_dit.h5" --steps 2 --num 2 --out "$E/o.h5"
expect_err 1 "attribute 'input_size' not found on / in tests/golden/vae_tiny.h5" \
    "$MSF" sample --weights tests/golden/vae_tiny.h5 --steps 2 --num 2 --out "$E/o.h5"
expect_err 1 "tests/golden/run_pixel_dit.h5 holds a 'dit' model, expected 'vae'" \
    "$MSF" decode tests/golden/vae_tiny.h5 --dataset dec/z --vae tests/golden/run_pixel_dit.h5 --out "$E/o.npz"
# Files that crash, overflow or exhaust libhdf5 1.10.8 itself (found by
# fuzzing, tests/fuzz/known-crashes): the probing child meets the fault
# (src/io/h5read.c); msf reports the file and writes nothing.
H=tests/fuzz/regressions/h5
expect_err 1 "$H/hdf5-attr-iterate-segv: the HDF5 library crashed or hung parsing this weight file (" \
    "$MSF" sample --weights "$H/hdf5-attr-iterate-segv" --steps 2 --num 2 --out "$E/o.h5"
expect 1 "$H/hdf5-attr-iterate-segv: the HDF5 library crashed or hung parsing this HDF5 file" "$MSF" info "$H/hdf5-attr-iterate-segv"
# An 8 GB variable-length attribute: the child's address-space limit makes
# libhdf5's allocation fail (normal build); under ASan, which has no such
# limit, the child runs into its CPU limit (20 s) instead. Either way exit 1.
expect_err 1 "cannot read the attributes of . in $H/hdf5-vlen-attr-8gb\|$H/hdf5-vlen-attr-8gb: the HDF5 library crashed or hung" \
    "$MSF" sample --weights "$H/hdf5-vlen-attr-8gb" --steps 2 --num 2 --out "$E/o.h5"
P="--weights tests/golden/run_pixel_dit.h5"
expect_err 2 "--num expects an integer in \[1, 100000000\], got '99999999999'" \
    "$MSF" sample $P --steps 2 --num 99999999999 --out "$E/o.h5"
expect_err 2 "--batch expects an integer in \[1, 4096\], got '0'" "$MSF" sample $P --steps 2 --num 2 --batch 0 --out "$E/o.h5"
expect_err 2 "expects a number, got 'nan'" "$MSF" sample $P --steps 2 --num 2 --cfg-scale nan --out "$E/o.h5"
expect_err 2 "--seed expects a non-negative integer, got '-1'" "$MSF" sample $P --steps 2 --num 2 --seed -1 --out "$E/o.h5"
expect_err 2 "respacing '0' keeps no steps" "$MSF" sample $P --steps 0 --num 2 --out "$E/o.h5"

# A full disk: a 64 kB tmpfs (root only) takes the 256 kB of samples; the
# command fails naming the file and leaves nothing on it.
if [ "$(id -u)" = 0 ]; then
    mkdir "$tmp/full"
    if mount -t tmpfs -o size=64k msf-test-full "$tmp/full" 2>/dev/null; then
        expect 1 "$tmp/full/o.h5" "$MSF" sample $P --steps 2 --num 64 --out "$tmp/full/o.h5"
        grep -qi "space\|write" "$tmp/log" || fail "full disk: the message does not say why: $(cat "$tmp/log")"
        [ -z "$(ls -A "$tmp/full")" ] || fail "full disk: left behind $(ls -A "$tmp/full")"
        umount "$tmp/full"
    else
        skip "cli_bad_input.sh: cannot mount a tmpfs for the full-disk case"
    fi
else
    echo "SKIP: cli_bad_input.sh: the full-disk case mounts a tmpfs and needs root"
fi

finish cli_bad_input.sh
