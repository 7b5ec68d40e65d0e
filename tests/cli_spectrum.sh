#!/bin/sh
# cli_spectrum.sh: `msf spectrum` on every input kind (IDX .gz made here, the
# .npz batches of tests/golden, latents written by `msf sample`, a PNG
# folder), its outputs (CSV columns, energy identities, HDF5, plots or
# the warning without gnuplot, no temporary files left), determinism across
# thread counts, --reference, and its errors. Run from the repository root by
# `make test` with MSF set to the binary. Needs no Python; uses gnuplot when
# installed (gnuplot-nox) and the real Fashion-MNIST test set when installed
# (dataset-fashion-mnist).
set -u
MSF=${MSF:-bin/msf}
FMNIST=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
. tests/testlib.sh

# no_tmp DIR: no temporary file left behind.
no_tmp() {
    if ls "$1" 2>/dev/null | grep -q 'tmp'; then
        fail "temporary files left in $1: $(ls "$1" | tr '\n' ' ')"
    fi
}

# IDX3 images: 4 images of 28x28, bytes (37 i) mod 251 + 1.
{
    printf '\000\000\010\003\000\000\000\004\000\000\000\034\000\000\000\034'
    LC_ALL=C awk 'BEGIN { for (i = 0; i < 3136; i++) printf "%c", (i * 37) % 251 + 1 }'
} >"$tmp/images.idx"
gzip -n -c "$tmp/images.idx" >"$tmp/images.gz"

# 1. Usage.
expect 0 "usage: msf spectrum" "$MSF" spectrum --help
expect 0 "spectrum" "$MSF" --help
expect 2 "usage: msf spectrum" "$MSF" spectrum
expect 2 "usage: msf spectrum" "$MSF" spectrum "$tmp/images.gz"
expect 2 "unknown option '--frobnicate'" "$MSF" spectrum "$tmp/images.gz" --out "$tmp/o" --frobnicate 1
expect 2 "unknown down operator 'lanczos'" "$MSF" spectrum "$tmp/images.gz" --out "$tmp/o" --factorize down=lanczos
expect 2 "band cuts '0.5,0.2'" "$MSF" spectrum "$tmp/images.gz" --out "$tmp/o" --cuts 0.5,0.2
expect 2 "unknown window 'kaiser'" "$MSF" spectrum "$tmp/images.gz" --out "$tmp/o" --window kaiser
expect 2 "unknown wavelet 'coif1'" "$MSF" spectrum "$tmp/images.gz" --out "$tmp/o" --wavelet coif1
expect 2 "more than one INPUT" "$MSF" spectrum a b --out "$tmp/o"
expect 2 "--levels expects" "$MSF" spectrum "$tmp/images.gz" --out "$tmp/o" --levels 0
# Options for a kind of input that neither INPUT nor REF is do nothing: errors.
expect_err 2 "--dataset applies to HDF5 latents; $tmp/images.gz is idx: leave it out" \
    "$MSF" spectrum "$tmp/images.gz" --out "$tmp/e/o" --dataset z
expect_err 2 "--array applies to .npz batches; $tmp/images.gz is idx and $tmp/images.idx is idx" \
    "$MSF" spectrum "$tmp/images.gz" --reference "$tmp/images.idx" --out "$tmp/e/o" --array a
expect_err 2 "--pad-to applies to IDX images; tests/golden/spectrum_npz_stored.npz is npz" \
    "$MSF" spectrum tests/golden/spectrum_npz_stored.npz --out "$tmp/e/o" --pad-to 0

# 2. IDX .gz, padded to 32x32, with plots (or the warning without gnuplot).
O=$tmp/idx
expect 0 "4 images 1x32x32 from .*(idx), factorisation s=2,levels=2,down=area,up=bilinear" \
    "$MSF" spectrum "$tmp/images.gz" --out "$O"
for f in spectrum.csv bands.csv wavelet.csv spectrum.h5 plots.gp; do
    [ -s "$O/$f" ] || fail "idx: $O/$f missing"
done
if command -v gnuplot >/dev/null 2>&1; then
    for f in spectrum.png bands.png wavelet.png; do
        if [ "$(head -c 4 "$O/$f" 2>/dev/null | od -A n -t x1 | tr -d ' ')" != "89504e47" ]; then
            fail "idx: $O/$f is not a PNG"
        fi
    done
else
    echo "cli_spectrum.sh: gnuplot not installed, plots not checked"
fi
no_tmp "$O"
head -1 "$O/spectrum.csv" | grep -q '^radius,z,base,residual$' || fail "spectrum.csv header: $(head -1 "$O/spectrum.csv")"
head -1 "$O/wavelet.csv" | grep -q '^level,subband,series,energy$' || fail "wavelet.csv header"
# 24 linear bins for 32x32 (+ header); 10 db2 subbands x 4 series (+ header).
[ "$(wc -l <"$O/spectrum.csv")" -eq 25 ] || fail "spectrum.csv has $(wc -l <"$O/spectrum.csv") lines, want 25"
[ "$(wc -l <"$O/wavelet.csv")" -eq 41 ] || fail "wavelet.csv has $(wc -l <"$O/wavelet.csv") lines, want 41"
# Per band: U(base) + residual + cross shares = 1; the bands' z energies add
# up to the 'all' row (Parseval); z's wavelet subbands add up to it too.
awk -F, 'NR > 1 { s = $9 + $10 + $11; if (s < 0.999999 || s > 1.000001) { print "shares of " $1 " sum to " s; bad = 1 } }
         NR > 1 && $1 != "all" { sum += $5 } $1 == "all" { all = $5 }
         END { if (sum < all * (1 - 1e-6) || sum > all * (1 + 1e-6)) { print "bands " sum " vs all " all; bad = 1 }
               exit bad }' "$O/bands.csv" || fail "bands.csv identities"
all=$(awk -F, '$1 == "all" { print $5 }' "$O/bands.csv")
awk -F, -v all="$all" '$3 == "z" { sum += $4 } END { exit !(sum > all * (1 - 1e-5) && sum < all * (1 + 1e-5)) }' \
    "$O/wavelet.csv" || fail "wavelet energies of z do not add up to $all"
expect 0 "bins = 24" "$MSF" info "$O/spectrum.h5"
expect 0 "band  *\[3, 1, 3\] *float32" "$MSF" info "$O/spectrum.h5"
expect 0 "wavelet  *\[3, 1, 10\] *float32" "$MSF" info "$O/spectrum.h5"
expect 0 "git_commit = " "$MSF" info "$O/spectrum.h5"

# 3. The same run with 1 and 2 threads gives the same files; so does a
# plain (not gzip) IDX file.
O1=$tmp/t1 O2=$tmp/t2
OMP_NUM_THREADS=1 "$MSF" spectrum "$tmp/images.gz" --out "$O1" --no-plots --window hann >/dev/null 2>&1 ||
    fail "1-thread run"
OMP_NUM_THREADS=2 "$MSF" spectrum "$tmp/images.idx" --out "$O2" --no-plots --window hann >/dev/null 2>&1 ||
    fail "2-thread run"
for f in spectrum.csv bands.csv wavelet.csv; do
    cmp -s "$O1/$f" "$O2/$f" || fail "$f differs between 1 and 2 threads"
done
# With the window, the 'all' row is the energy of the windowed images, what
# the bands add up to: every fraction column sums to 1 (it was 1.3 and more
# when 'all' held the unwindowed energy).
awk -F, 'NR > 1 && $1 != "all" { z += $5; fz += $12; fb += $13; fr += $14 } $1 == "all" { all = $5 }
         END { if (z < all * (1 - 1e-6) || z > all * (1 + 1e-6)) { print "hann: bands " z " vs all " all; bad = 1 }
               for (i = 0; i < 3; i++) { f = i == 0 ? fz : i == 1 ? fb : fr
                   if (f < 0.999999 || f > 1.000001) { print "hann: fractions sum to " f; bad = 1 } }
               exit bad }' "$O1/bands.csv" || fail "hann: bands.csv 'all' row or fractions"
expect 0 "spectrum_energy  *\[3, 1\] *float32" "$MSF" info "$O1/spectrum.h5"
expect 0 "E(w x)" "$MSF" spectrum --help

# 4. Options: 28x28 unpadded, log bins, symmetric sym4, s=4, nearest up, 4 bands.
O=$tmp/opts
expect 0 "3 images 1x28x28" "$MSF" spectrum "$tmp/images.gz" --out "$O" --no-plots --pad-to 0 --spacing log \
    --bins 12 --wavelet sym4 --wavelet-mode symmetric --levels 2 --factorize s=4,up=nearest --cuts 1/4,1/2,3/4 \
    --range signed --max 3
[ "$(wc -l <"$O/spectrum.csv")" -eq 13 ] || fail "log bins: $(wc -l <"$O/spectrum.csv") lines, want 13"
grep -q '^band3,' "$O/bands.csv" || fail "4 bands: no band3 row"
expect 0 "factorize = s=4,levels=2,down=area,up=nearest" "$MSF" info "$O/spectrum.h5"
expect 0 "images = 3" "$MSF" info "$O/spectrum.h5"
# Area + nearest is the Haar pyramid: base and residual are orthogonal, the
# cross term over all frequencies is ~0.
awk -F, '$1 == "all" { exit !($11 < 1e-5 && $11 > -1e-5) }' "$O/bands.csv" || fail "area+nearest: cross share not 0"

# 5. An ADM-style .npz batch (3 RGB images of 8x6) and a deflated gray one.
O=$tmp/npz
expect 0 "3 images 3x8x6 from .*(npz)" "$MSF" spectrum tests/golden/spectrum_npz_stored.npz --out "$O" --no-plots \
    --levels 1
expect 1 "cannot be factorised" "$MSF" spectrum tests/golden/spectrum_npz_deflated.npz --out "$O" --no-plots
expect 1 "has no array 'images'" "$MSF" spectrum tests/golden/spectrum_npz_stored.npz --out "$O" --array images
# ... but one that applies to the reference is taken.
expect 1 "has no array 'images'" "$MSF" spectrum "$tmp/images.gz" --reference tests/golden/spectrum_npz_stored.npz \
    --out "$O" --array images

# 6. Latents from `msf sample` (a random tiny DiT: "generated" data), then
# --reference with the same file: every ratio is 1.
"$MSF" sample --weights tests/golden/dit_tiny.h5 --group sigma --num 6 --steps 2 --cfg-scale 1 \
    --out "$tmp/latents.h5" >/dev/null 2>&1 || fail "msf sample for the latents"
O=$tmp/lat
expect 0 "6 images 4x8x8 from .*(hdf5)" "$MSF" spectrum "$tmp/latents.h5" --out "$O" --reference "$tmp/latents.h5" \
    --levels 2
head -1 "$O/bands.csv" | grep -q ',z_vs_ref,base_vs_ref,residual_vs_ref$' || fail "--reference: no ratio columns"
expect_err 2 "--range applies to 8-bit images (IDX, .npz, PNG); $tmp/latents.h5 is hdf5 and $tmp/latents.h5 is hdf5" \
    "$MSF" spectrum "$tmp/latents.h5" --reference "$tmp/latents.h5" --out "$tmp/e/o" --range signed
awk -F, 'NR > 1 { for (i = 22; i <= 24; i++) if ($i != 1) bad = 1 } END { exit bad }' "$O/bands.csv" ||
    fail "--reference with the input itself: ratios are not 1"
head -1 "$O/spectrum.csv" | grep -q ',ref_z,ref_base,ref_residual$' || fail "--reference: no ref_ spectrum columns"
grep -q ',ref_residual,' "$O/wavelet.csv" || fail "--reference: no ref_ wavelet rows"
if command -v gnuplot >/dev/null 2>&1; then
    [ -s "$O/bands_vs_reference.png" ] || fail "--reference: no bands_vs_reference.png"
fi
expect 1 "reference .*images.gz holds 1x32x32 images, .*latents.h5 holds 4x8x8" \
    "$MSF" spectrum "$tmp/latents.h5" --out "$O" --reference "$tmp/images.gz"
expect 1 "has no dataset 'z'" "$MSF" spectrum "$tmp/latents.h5" --out "$O" --dataset z

# 6b. A PNG folder: two copies of a plot made above (RGB, 650x1000).
if [ -s "$tmp/idx/spectrum.png" ]; then
    mkdir "$tmp/pngs"
    cp "$tmp/idx/spectrum.png" "$tmp/pngs/a.png"
    cp "$tmp/idx/spectrum.png" "$tmp/pngs/b.PNG"
    expect 0 "2 images 3x650x1000 from .*(png-folder)" "$MSF" spectrum "$tmp/pngs" --out "$tmp/png" --no-plots --levels 2
    cp "$tmp/idx/bands.png" "$tmp/pngs/c.png"
    expect 1 "c.png is 650x1400, expected 650x1000" "$MSF" spectrum "$tmp/pngs" --out "$tmp/png" --no-plots
fi

# 7. Without gnuplot: data files, a warning, exit 0.
O=$tmp/nognuplot
expect 0 "warning: gnuplot not found" env MSF_GNUPLOT=/nonexistent/gnuplot "$MSF" spectrum "$tmp/images.gz" --out "$O"
[ -s "$O/bands.csv" ] && [ -s "$O/plots.gp" ] || fail "no gnuplot: data files missing"
[ ! -e "$O/spectrum.png" ] || fail "no gnuplot: a PNG appeared"
no_tmp "$O"

# 8. Bad inputs: errors name the file, exit 1.
expect 1 "msf spectrum: cannot open input $tmp/missing.gz" "$MSF" spectrum "$tmp/missing.gz" --out "$tmp/e"
head -c 200 "$tmp/images.gz" >"$tmp/short.gz"
expect 1 "$tmp/short.gz" "$MSF" spectrum "$tmp/short.gz" --out "$tmp/e"
{ head -c 30 "$tmp/images.gz"; head -c 300 /dev/zero; } >"$tmp/corrupt.gz"
expect 1 "$tmp/corrupt.gz: corrupt gzip data" "$MSF" spectrum "$tmp/corrupt.gz" --out "$tmp/e"
{ printf '\000\000\010\001\000\000\000\002'; printf 'ab'; } | gzip -n -c >"$tmp/labels.gz"
expect 1 "$tmp/labels.gz: magic 0x00000801 is not an IDX file of images" "$MSF" spectrum "$tmp/labels.gz" --out "$tmp/e"
{ printf '\000\000\010\003\000\000\000\001\000\000\000\050\000\000\000\050'; head -c 1600 /dev/zero; } >"$tmp/big.idx"
expect 1 "images are 40x40, larger than the padded size 32" "$MSF" spectrum "$tmp/big.idx" --out "$tmp/e"
echo "hello" >"$tmp/text.txt"
expect 1 "$tmp/text.txt is neither IDX images" "$MSF" spectrum "$tmp/text.txt" --out "$tmp/e"
mkdir "$tmp/empty"
expect 1 "no .png files in $tmp/empty" "$MSF" spectrum "$tmp/empty" --out "$tmp/e"
[ ! -e "$tmp/e" ] || [ -z "$(ls "$tmp/e")" ] || fail "failed runs left files in $tmp/e: $(ls "$tmp/e")"

# 9. The real Fashion-MNIST test set (first 500 images), when installed: the
# base carries most of the low band and the residual most of the high band.
if [ -r "$FMNIST" ]; then
    O=$tmp/fmnist
    expect 0 "500 images 1x32x32" "$MSF" spectrum "$FMNIST" --out "$O" --no-plots --max 500
    awk -F, '$1 == "low" && $9 < 0.8 { bad = 1 } $1 == "high" && $10 < 0.9 { bad = 1 } END { exit bad }' \
        "$O/bands.csv" || fail "Fashion-MNIST: base share of low < 0.8 or residual share of high < 0.9"
else
    skip "cli_spectrum.sh: $FMNIST not installed, the real-data run needs it (make deps)"
fi

finish cli_spectrum.sh
