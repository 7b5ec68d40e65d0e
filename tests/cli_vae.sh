#!/bin/sh
# cli_vae.sh: `msf decode` and `msf encode` on the tiny VAE golden file, and
# tools/convert_vae.py from every supported naming (diffusers .bin with
# to_q/to_k/to_v/to_out.0, diffusers .safetensors with query/key/value/
# proj_attn, an original LDM .ckpt) to identical HDF5 tensors, then
# `msf decode` on the result against PyTorch.
# Run from the repository root by `make test` with MSF set to the binary.
#
# tests/golden/vae_tiny.h5 (tools/golden/gen_vae.py) holds the model (group
# vae), latents dec/z with their decoded pixels dec/pixels, and images
# enc/pixels with their latents enc/latents. Checks that read .npz files or
# write test inputs need /usr/bin/python3 with h5py and numpy; the converter
# checks need python3-torch. Without them those parts say SKIP (a failure
# under CI, which installs both).
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
G=tests/golden/vae_tiny.h5
. tests/testlib.sh
VAE="--vae $G --group vae"

# py DESC SCRIPT ARGS...: run a Python check (stdin); a failure prints its output.
py() {
    desc=$1
    shift
    if ! "$PY" - "$@" >"$tmp/pylog" 2>&1; then
        fail "$desc:"
        sed 's/^/    /' "$tmp/pylog"
    fi
}

have_py=0
if "$PY" -c 'import h5py, numpy' >/dev/null 2>&1; then
    have_py=1
else
    skip "cli_vae.sh: .npz contents, generated inputs and msf forward need $PY with h5py and numpy (make deps-python)"
fi

# same_latents DESC A.h5 B.h5: identical `msf info --tensor latents` lines
# (shape, min, max, mean, std, non-finite), and not empty.
same_latents() {
    a=$("$MSF" info "$2" --tensor latents 2>&1) b=$("$MSF" info "$3" --tensor latents 2>&1)
    case $a in
    "latents ["*) ;;
    *) fail "$1: $2 has no latents: $a" ;;
    esac
    [ "$a" = "$b" ] || fail "$1: latents of $2 and $3 differ: '$a' vs '$b'"
}

# -----------------------------------------------------------------------------
# 1. decode: the golden latents to an ADM .npz, PNGs and a grid.
W=$tmp/w
expect 0 "wrote $W/img.npz: arr_0 uint8 \[2, 48, 44, 3\]" \
    "$MSF" decode $G --dataset dec/z $VAE --out "$W/img.npz" --png-dir "$W/png" --grid "$W/grid.png" --grid-cols 2
[ "$(ls "$W/png")" = "$(printf '000000.png\n000001.png')" ] || fail "--png-dir holds: $(ls "$W/png")"
[ -s "$W/grid.png" ] || fail "no grid written"
[ ! -e "$W/grid.txt" ] || fail "a grid legend without labels"
# Latents with labels (msf sample writes them): the grid's legend beside it,
# each image's class index row by row (5 images, 3 a row).
"$MSF" sample --weights tests/golden/dit_tiny.h5 --group sigma --num 5 --steps 2 --cfg-scale 1 --out "$W/lat5.h5" \
    >/dev/null 2>&1 || fail "msf sample for labelled latents"
expect 0 "wrote $W/g5.txt: the classes of the images of $W/g5.png" \
    "$MSF" decode "$W/lat5.h5" $VAE --out "$W/img5.npz" --grid "$W/g5.png"
grep -Eq '^row 1: [0-9]+ \| [0-9]+ \| [0-9]+$' "$W/g5.txt" && grep -Eq '^row 2: [0-9]+ \| [0-9]+$' "$W/g5.txt" &&
    [ "$(grep -c '^row' "$W/g5.txt")" -eq 2 ] || fail "g5.txt is not the 2-row legend: $(cat "$W/g5.txt" 2>&1)"
grep -q "arr_0.npy" "$W/img.npz" || fail "$W/img.npz has no entry arr_0.npy"
# One thread gives the same bytes.
expect 0 "" env OMP_NUM_THREADS=1 "$MSF" decode $G --dataset dec/z $VAE --out "$W/img1.npz"
cmp -s "$W/img.npz" "$W/img1.npz" || fail "decode with 1 thread wrote other bytes"
if [ "$have_py" -eq 1 ]; then
    py "decoded .npz = the reference pixels (<= 1 level on <= 0.1%), PNGs and grid agree" \
        "$G" "$W" <<'EOF'
import sys, zlib, struct
import h5py, numpy as np
g, w = sys.argv[1:]
a = np.load(f"{w}/img.npz")
assert a.files == ["arr_0"], a.files
x = a["arr_0"]
assert x.dtype == np.uint8 and x.shape == (2, 48, 44, 3), (x.dtype, x.shape)
with h5py.File(g) as f:
    want = f["dec/pixels"][()]
d = np.abs(x.astype(int) - want)
assert d.max() <= 1 and (d > 0).mean() <= 1e-3, f"max {d.max()}, {(d > 0).mean():.2%} differ"

def png(path):  # 8-bit RGB, no interlace: enough for our own files
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    wd, ht, depth, ctype = hdr[:4]
    assert depth == 8 and ctype == 2, hdr
    raw = zlib.decompress(idat)
    stride, out, prev = 3 * wd, [], bytearray(3 * wd)
    for r in range(ht):
        f, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - 3] if i >= 3 else 0
            up, ul = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1: line[i] = (line[i] + left) & 255
            elif f == 2: line[i] = (line[i] + up) & 255
            elif f == 3: line[i] = (line[i] + (left + up) // 2) & 255
            elif f == 4:
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else ul)) & 255
        out.append(bytes(line))
        prev = line
    return np.frombuffer(b"".join(out), np.uint8).reshape(ht, wd, 3)

for i in range(2):
    assert np.array_equal(png(f"{w}/png/{i:06d}.png"), x[i]), f"PNG {i} differs"
grid = png(f"{w}/grid.png")
assert grid.shape == (2 + 48 + 2, 2 + 2 * (44 + 2), 3), grid.shape
assert np.array_equal(grid[2:50, 2:46], x[0]) and np.array_equal(grid[2:50, 48:92], x[1])
assert grid[:2].max() == 0 and grid[:, 46:48].max() == 0
EOF
fi

# -----------------------------------------------------------------------------
# 2. encode: the decoded images from the .npz and from the PNG folder give
# the same latents; posterior samples are keyed by seed and image.
expect 0 "wrote $W/lat_npz.h5: latents float32 \[2, 4, 24, 22\]" "$MSF" encode "$W/img.npz" $VAE --out "$W/lat_npz.h5"
expect 0 "wrote $W/lat_png.h5: latents float32 \[2, 4, 24, 22\]" "$MSF" encode "$W/png" $VAE --out "$W/lat_png.h5"
same_latents "latents from .npz and from PNGs" "$W/lat_npz.h5" "$W/lat_png.h5"
expect 0 "input_kind = png" "$MSF" info "$W/lat_png.h5"
a=$("$MSF" info "$W/lat_npz.h5" --tensor latents 2>&1 | sed -n 2p)
for attr in "posterior = mean" "input_kind = npz" "scaling_factor = 0.18215" "vae = $G" "num = 2"; do
    "$MSF" info "$W/lat_npz.h5" | grep -q -- "^ *$attr" || fail "msf info $W/lat_npz.h5 lacks '$attr'"
done
LAT="latents float32 \[2, 4, 24, 22\]"
expect 0 "wrote $W/s3.h5: $LAT" "$MSF" encode "$W/img.npz" $VAE --out "$W/s3.h5" --sample --seed 3
expect 0 "wrote $W/s3_t1.h5: $LAT" \
    env OMP_NUM_THREADS=1 "$MSF" encode "$W/img.npz" $VAE --out "$W/s3_t1.h5" --sample --seed 3
expect 0 "wrote $W/s4.h5: $LAT" "$MSF" encode "$W/img.npz" $VAE --out "$W/s4.h5" --sample --seed 4
expect 0 "posterior = sample" "$MSF" info "$W/s3.h5"
s3=$("$MSF" info "$W/s3.h5" --tensor latents | sed -n 2p)
[ "$s3" = "$("$MSF" info "$W/s3_t1.h5" --tensor latents | sed -n 2p)" ] || fail "sample with 1 thread differs"
[ "$s3" != "$("$MSF" info "$W/s4.h5" --tensor latents | sed -n 2p)" ] || fail "seeds 3 and 4 give the same sample"
[ "$s3" != "$a" ] || fail "the posterior sample equals the mean"
if [ "$have_py" -eq 1 ]; then
    py "write the encoder inputs" "$G" "$tmp" <<'EOF'
import os, sys
import h5py, numpy as np
g, t = sys.argv[1:]
with h5py.File(g) as f:
    px = f["enc/pixels"][()]
    z = f["dec/z"][()]
np.savez(f"{t}/enc.npz", arr_0=px)
np.savez_compressed(f"{t}/enc_deflate.npz", arr_0=px)
np.savez(f"{t}/other.npz", images=px)
np.savez(f"{t}/odd.npz", arr_0=px[:, :53])
np.savez(f"{t}/gray.npz", arr_0=px[..., 0])
np.savez(f"{t}/float.npz", arr_0=px.astype(np.float32))
np.savez(f"{t}/fortran.npz", arr_0=np.asfortranarray(px))
open(f"{t}/notzip.npz", "wb").write(b"not a zip file")
z[1, 2, 3, 4] = np.nan
with h5py.File(f"{t}/nan.h5", "w") as f:
    f["latents"] = z
os.mkdir(f"{t}/mixed")
os.mkdir(f"{t}/empty")
EOF
    expect 0 "" "$MSF" encode "$tmp/enc.npz" $VAE --out "$W/enc.h5"
    expect 0 "" "$MSF" encode "$tmp/enc_deflate.npz" $VAE --out "$W/enc_deflate.h5"
    py "encode vs the reference latents (rel <= 1e-5), stored and deflated .npz alike" "$G" "$W" <<'EOF'
import sys
import h5py, numpy as np
g, w = sys.argv[1:]
with h5py.File(g) as f:
    want = f["enc/latents"][()].astype(np.float64)
for name in ("enc", "enc_deflate"):
    with h5py.File(f"{w}/{name}.h5") as f:
        got = f["latents"][()].astype(np.float64)
    rel = np.abs(got - want).max() / np.abs(want).max()
    assert got.shape == want.shape and rel <= 1e-5, f"{name}: rel {rel:.3g}"
EOF
    cp "$W/png/000000.png" "$tmp/mixed/a.png"
    expect 0 "wrote $tmp/odd_img.npz: arr_0 uint8 \[1, 14, 10, 3\]" \
        "$MSF" decode $G --dataset dec_odd/z $VAE --out "$tmp/odd_img.npz" --png-dir "$tmp/oddpng"
    cp "$tmp/oddpng/000000.png" "$tmp/mixed/b.png"
fi

# -----------------------------------------------------------------------------
# 3. Errors: exit 1, a message, nothing written to $tmp/e.
E=$tmp/e/out.npz
expect_err 1 "cannot open weight file $tmp/missing.h5" "$MSF" decode $G --dataset dec/z --vae "$tmp/missing.h5" --out "$E"
expect_err 1 "$G has no dataset 'latents' (expected float32 latents \[N, C, h, w\])" "$MSF" decode $G $VAE --out "$E"
expect_err 1 "dataset 'dec/x' of $G has 3 channels; the VAE $G takes 4 latent channels" \
    "$MSF" decode $G --dataset dec/x $VAE --out "$E"
expect_err 1 "tests/golden/dit_tiny.h5:sigma holds a 'dit' model, expected 'vae'" \
    "$MSF" decode $G --dataset dec/z --vae tests/golden/dit_tiny.h5 --group sigma --out "$E"
expect_err 1 "tests/golden/nn_ops.h5 is not a VAE weight file" "$MSF" decode $G --dataset dec/z --vae tests/golden/nn_ops.h5 --out "$E"
expect_err 1 "cannot create images file $tmp/e/nodir/out.npz: its folder .* does not exist" "$MSF" decode $G --dataset dec/z $VAE --out "$tmp/e/nodir/out.npz"
expect_err 1 "no .png files in $tmp/e" "$MSF" encode "$tmp/e" $VAE --out "$tmp/e/lat.h5"
rm -rf "$tmp/e"/*
expect_err 1 "cannot open $tmp/missing.npz" "$MSF" encode "$tmp/missing.npz" $VAE --out "$tmp/e/lat.h5"
# A folder where the images file should go is refused before any work.
mkdir "$E"
expect 1 "cannot create images file $E: it is a folder" "$MSF" decode $G --dataset dec/z $VAE --out "$E"
[ "$(ls -A "$tmp/e")" = out.npz ] || fail "a failed rename left files: $(ls -A "$tmp/e")"
rmdir "$E"
if [ "$have_py" -eq 1 ]; then
    expect_err 1 "VAE decode: latent 1 holds a non-finite value (nan at channel 2, row 3, column 4)" \
        "$MSF" decode "$tmp/nan.h5" $VAE --out "$E"
    L=$tmp/e/lat.h5
    expect_err 1 "$tmp/other.npz has no array 'arr_0' (it holds: images.npy)" "$MSF" encode "$tmp/other.npz" $VAE --out "$L"
    expect 0 "wrote $W/other.h5: latents float32 \[2, 4, 27, 23\]" \
        "$MSF" encode "$tmp/other.npz" --array images $VAE --out "$W/other.h5"
    py "encode --array images = encode of the same pixels as arr_0" "$W" <<'EOF'
import sys
import h5py, numpy as np
w = sys.argv[1]
with h5py.File(f"{w}/enc.h5") as a, h5py.File(f"{w}/other.h5") as b:
    assert np.array_equal(a["latents"][()], b["latents"][()]), "latents differ"
EOF
    expect_err 1 "images are 46x53; the VAE needs sides that are multiples of 2" "$MSF" encode "$tmp/odd.npz" $VAE --out "$L"
    expect_err 1 "array 'arr_0' of $tmp/gray.npz has shape \[2, 54, 46\], expected uint8 \[N, H, W, 3\]" \
        "$MSF" encode "$tmp/gray.npz" $VAE --out "$L"
    expect_err 1 "the array is not uint8" "$MSF" encode "$tmp/float.npz" $VAE --out "$L"
    expect_err 1 "array 'arr_0': the array is in Fortran order" "$MSF" encode "$tmp/fortran.npz" $VAE --out "$L"
    expect_err 1 "cannot read $tmp/notzip.npz as .npz: Not a zip archive" "$MSF" encode "$tmp/notzip.npz" $VAE --out "$L"
    expect_err 1 "$tmp/mixed/b.png is 10x14, the first image (a.png) 44x48: all images must have one size" \
        "$MSF" encode "$tmp/mixed" $VAE --out "$L"
fi
# Usage errors: exit 2.
expect_err 2 "usage: msf decode" "$MSF" decode $G $VAE
expect_err 2 "unknown option '--bogus'" "$MSF" decode $G $VAE --out "$E" --bogus 1
expect_err 2 "one latents file expected" "$MSF" decode $G $G $VAE --out "$E"
expect_err 2 "--grid-cols expects an integer in \[1, 256\], got '0'" "$MSF" decode $G $VAE --out "$E" --grid-cols 0
expect_err 2 "usage: msf encode" "$MSF" encode "$W/img.npz" $VAE
expect_err 2 "--seed expects a non-negative integer, got '-2'" "$MSF" encode "$W/img.npz" $VAE --out "$E" --seed -2
expect_err 2 "--vae needs a value" "$MSF" encode "$W/img.npz" --out "$E" --vae

# -----------------------------------------------------------------------------
# 4. tools/convert_vae.py: three namings -> identical tensors; msf decode on
# the result vs PyTorch.
if "$PY" -c 'import torch, h5py, numpy' >/dev/null 2>&1; then
    c=$tmp/conv
    mkdir "$c"
    py "build the converter test checkpoints" "$c" <<'EOF'
import json, struct, sys
sys.path.insert(0, "tools")
import h5py, numpy as np, torch
from reference.vae import AutoencoderKL, pixels_from_decoded, randomize
d = sys.argv[1]
cfg = dict(block_out_channels=(32, 64, 64), layers_per_block=1, norm_num_groups=16)
m = randomize(AutoencoderKL(**cfg), 77)
sd = {k: v.clone() for k, v in m.state_dict().items()}
torch.save(sd, f"{d}/diffusers.bin")
json.dump(dict(_class_name="AutoencoderKL", in_channels=3, out_channels=3, latent_channels=4,
               block_out_channels=[32, 64, 64], layers_per_block=1, norm_num_groups=16, scaling_factor=0.13025,
               act_fn="silu"), open(f"{d}/config.json", "w"))

def safetensors(path, tensors, dtype="F32"):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for k, v in tensors.items():
        a = v.numpy().astype(np.float16 if dtype == "F16" else np.float32)
        header[k] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

old = {k.replace("to_q.", "query.").replace("to_k.", "key.").replace("to_v.", "value.").replace("to_out.0.", "proj_attn."): v
       for k, v in sd.items()}
safetensors(f"{d}/old.safetensors", old)
safetensors(f"{d}/half.safetensors", sd, "F16")

# The LDM naming: decoder.up[i] counts from the full resolution.
L = 3
def ldm(k):
    for a, b in (("mid_block.resnets.0.", "mid.block_1."), ("mid_block.resnets.1.", "mid.block_2."),
                 ("mid_block.attentions.0.group_norm.", "mid.attn_1.norm."), ("mid_block.attentions.0.to_q.", "mid.attn_1.q."),
                 ("mid_block.attentions.0.to_k.", "mid.attn_1.k."), ("mid_block.attentions.0.to_v.", "mid.attn_1.v."),
                 ("mid_block.attentions.0.to_out.0.", "mid.attn_1.proj_out."), ("conv_norm_out.", "norm_out."),
                 ("conv_shortcut.", "nin_shortcut."), ("downsamplers.0.", "downsample."), ("upsamplers.0.", "upsample."),
                 (".resnets.", ".block.")):
        k = k.replace(a, b)
    parts = k.split(".")
    if parts[1] == "down_blocks":
        parts[1] = "down"
    if parts[1] == "up_blocks":
        parts[1], parts[2] = "up", str(L - 1 - int(parts[2]))
    return ".".join(parts)
ck = {"first_stage_model." + ldm(k): (v[:, :, None, None] if ".attn_1." in ldm(k) and v.dim() == 2 else v)
      for k, v in sd.items()}
ck["first_stage_model.loss.logvar"] = torch.zeros(())
ck["model.diffusion_model.input_blocks.0.0.weight"] = torch.zeros(3)
torch.save({"state_dict": ck, "global_step": 1}, f"{d}/ldm.ckpt")
torch.save({k: v for k, v in sd.items() if k != "decoder.up_blocks.2.resnets.1.conv2.bias"}, f"{d}/missing.bin")
torch.save(dict(sd, **{"decoder.conv_out.weight": torch.zeros(3, 31, 3, 3)}), f"{d}/misshaped.bin")

z = torch.randn(2, 4, 5, 6)
with torch.no_grad():
    x = m.double().decode(z.double() / 0.13025)
with h5py.File(f"{d}/z.h5", "w") as f:
    f["latents"] = z.numpy()
with h5py.File(f"{d}/want.h5", "w") as f:
    f["pixels"] = pixels_from_decoded(x.float())
EOF
    CONVERT="$PY tools/convert_vae.py"
    # config.json next to the weights is found by itself: scaling factor 0.13025, 16 groups.
    expect 0 "wrote $c/bin.h5 (from diffusers naming)" $CONVERT "$c/diffusers.bin" "$c/bin.h5"
    expect 0 "from ldm naming" $CONVERT "$c/ldm.ckpt" "$c/ldm.h5"
    grep -q "dropping 1 tensors not used at inference (loss.logvar" "$tmp/log" || fail "LDM: loss.* not reported"
    # The other cases in one process (each start of torch costs a second or two):
    # convert_vae.main's exit status, its messages, and no file left on failure.
    py "convert_vae.py: old attention naming, float16, broken checkpoints" "$c" "$tmp/notzip.npz" "$tmp/e" <<'EOF2'
import contextlib, io, os, sys
sys.path.insert(0, "tools")
import convert_vae
d, notzip, e = sys.argv[1:]
def run(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = convert_vae.main(list(args))
    return rc, out.getvalue()
rc, log = run(f"{d}/old.safetensors", f"{d}/old.h5")
assert rc == 0 and "from diffusers (query/key/value/proj_attn) naming" in log and "norm_num_groups = 16" in log, log
rc, log = run(f"{d}/half.safetensors", f"{d}/half.h5")
assert rc == 0, log
for src, msg in ((f"{d}/missing.bin", "missing tensor decoder.up_blocks.2.resnets.1.conv2.bias"),
                 (f"{d}/misshaped.bin", "tensor 'decoder.conv_out.weight' has shape [3, 31, 3, 3], expected [3, 32, 3, 3]"),
                 (notzip, "not a safetensors file")):
    rc, log = run(src, f"{e}/m.h5")
    assert rc == 1 and msg in log and not os.listdir(e), (src, rc, log, os.listdir(e))
EOF2
    expect 0 "scaling_factor = 0.13025" "$MSF" info "$c/ldm.h5"
    py "all namings convert to identical HDF5 tensors and attributes" "$c" <<'EOF'
import sys
import h5py, numpy as np
d = sys.argv[1]
def read(name):
    with h5py.File(f"{d}/{name}.h5") as f:
        t = {}
        f.visititems(lambda k, o: t.__setitem__(k, (o.dtype, o[()])) if isinstance(o, h5py.Dataset) else None)
        return t, {k: v for k, v in f.attrs.items() if k != "source"}
ref, ra = read("bin")
assert len(ref) > 100, len(ref)
for name in ("old", "ldm"):
    t, a = read(name)
    assert a == ra, (name, a, ra)
    assert sorted(t) == sorted(ref), (name, sorted(set(t) ^ set(ref)))
    for k in ref:
        assert t[k][0] == np.float32 and t[k][1].shape == ref[k][1].shape and np.array_equal(t[k][1], ref[k][1]), (name, k)
t, _ = read("half")
for k in ref:
    assert np.array_equal(t[k][1], ref[k][1].astype(np.float16).astype(np.float32)), ("half", k)
EOF
    expect 0 "" "$MSF" decode "$c/z.h5" --vae "$c/ldm.h5" --out "$c/x.npz" --png-dir "$c/png"
    # The PNGs of the decoded images encode back to latents of z's shape,
    # with the converted scaling factor.
    expect 0 "wrote $c/lat.h5: latents float32 \[2, 4, 5, 6\]" "$MSF" encode "$c/png" --vae "$c/ldm.h5" --out "$c/lat.h5"
    expect 0 "scaling_factor = 0.13025" "$MSF" info "$c/lat.h5"
    py "convert_vae.py (LDM .ckpt) + msf decode vs PyTorch" "$c" <<'EOF'
import sys
import h5py, numpy as np
d = sys.argv[1]
with h5py.File(f"{d}/want.h5") as f:
    want = f["pixels"][()]
got = np.load(f"{d}/x.npz")["arr_0"]
diff = np.abs(got.astype(int) - want)
assert got.shape == want.shape == (2, 20, 24, 3) and diff.max() <= 1 and (diff > 0).mean() <= 1e-3, \
    (got.shape, diff.max(), (diff > 0).mean())
EOF
else
    skip "cli_vae.sh: converter checks need python3-torch (make deps-python)"
fi

# msf sample --vae: sample latents with the tiny DiT and decode them at once;
# the images equal `msf decode` of the written latents.
expect 0 "wrote $W/sv.npz: arr_0 uint8 \[3, 16, 16, 3\]" "$MSF" sample --weights tests/golden/dit_tiny.h5 \
    --group sigma --num 3 --steps 5 --vae $G --vae-group vae --out "$W/sv.h5"
expect 0 "latents  *\[3, 4, 8, 8\]" "$MSF" info "$W/sv.h5"
expect 0 "wrote $W/sv_decoded.npz: arr_0 uint8 \[3, 16, 16, 3\]" "$MSF" decode "$W/sv.h5" $VAE --out "$W/sv_decoded.npz"
cmp -s "$W/sv.npz" "$W/sv_decoded.npz" || fail "msf sample --vae and msf decode wrote different .npz files"
expect 0 "wrote $W/named.npz" "$MSF" sample --weights tests/golden/dit_tiny.h5 --group sigma --num 1 --steps 2 \
    --vae $G --vae-group vae --out "$W/named.h5" --images "$W/named.npz"

# msf forward on VAE weights: the raw decoder and encoder passes against the
# golden's float64 reference (decoder x, encoder moments).
if [ "$have_py" = 1 ]; then
    py "forward inputs" "$W" <<'EOF'
import sys
import h5py
import numpy as np
w = sys.argv[1]
with h5py.File("tests/golden/vae_tiny.h5", "r") as g:
    with h5py.File(f"{w}/fz.h5", "w") as f:
        scale = float(g["vae"].attrs["scaling_factor"])  # the raw decoder takes z / scaling_factor
        f["x"], f["want"] = g["dec/z"][()] / np.float32(scale), g["dec/x"][()]
    with h5py.File(f"{w}/fx.h5", "w") as f:
        pixels = g["enc/pixels"][()].astype("float32")
        f["x"], f["want"] = (pixels / 255 - 0.5).transpose(0, 3, 1, 2) / 0.5, g["enc/moments"][()]
EOF
    expect 0 "" "$MSF" forward --weights $G --group vae --in "$W/fz.h5" --out "$W/fz_out.h5"
    expect 0 "" "$MSF" forward --weights $G --group vae --part encoder --in "$W/fx.h5" --out "$W/fx_out.h5"
    py "msf forward on the VAE" "$W" <<'EOF'
import sys
import h5py
import numpy as np
w = sys.argv[1]
for name in ("fz", "fx"):
    got = h5py.File(f"{w}/{name}_out.h5", "r")["out"][()]
    want = h5py.File(f"{w}/{name}.h5", "r")["want"][()]
    rel = np.abs(got - want).max() / np.abs(want).max()
    assert got.shape == want.shape and rel <= 1e-5, (name, got.shape, want.shape, rel)
EOF
    expect_err 2 "--part must be decoder or encoder" "$MSF" forward --weights $G --group vae --part middle \
        --in "$W/fz.h5" --out "$E"
    expect_err 1 "dataset 'x' must be float32 \[N, 3, H, W\]" "$MSF" forward --weights $G --group vae \
        --part encoder --in "$W/fz.h5" --out "$E"
fi

# Successful commands left only their results, no temporary files.
left=$(find "$tmp/w" -name '*.tmp*')
[ -z "$left" ] || fail "temporary files left in $tmp/w: $left"

finish cli_vae.sh
