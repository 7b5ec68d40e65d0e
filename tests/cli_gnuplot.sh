#!/bin/sh
# cli_gnuplot.sh: text from users, file names and configs reaches gnuplot
# only quoted (io/gnuplot.h): `msf spectrum` with a --title, an input file
# and a reference file whose names hold backquote commands, quotes and
# newlines, and `msf run` with such an experiment name, run name and swept
# weights path (spectra on), run nothing and still draw every PNG. A failing
# gnuplot (MSF_GNUPLOT) and one that leaves empty PNGs (as on a full disk)
# fail both commands and leave no PNG or temporary file; a missing gnuplot is
# a warning. Run from the repository root by `make test` with MSF set to the
# binary.
set -u
MSF=${MSF:-bin/msf}
. tests/testlib.sh

# no_pwned: none of the backquote commands below ran (each would create a
# file named pwned* in the folder gnuplot runs in).
no_pwned() {
    found=$(find "$tmp" -name 'pwned*')
    [ -z "$found" ] || fail "$1: a backquote command ran: $found"
    rm -f $found
}

# pngs DIR NAME...: each DIR/NAME is a complete PNG (signature and IEND chunk).
pngs() {
    d=$1
    shift
    if [ -z "$have_gnuplot" ]; then return; fi
    for f in "$@"; do
        if [ "$(head -c 8 "$d/$f" 2>/dev/null | od -A n -t x1 | tr -d ' \n')" != "89504e470d0a1a0a" ] ||
            [ "$(tail -c 8 "$d/$f" | od -A n -t x1 | tr -d ' \n')" != "49454e44ae426082" ]; then
            fail "$d/$f is not a complete PNG"
        fi
    done
}

# no_tmp DIR: no temporary file left in DIR.
no_tmp() {
    left=$(ls -A "$1" | grep 'tmp')
    [ -z "$left" ] || fail "temporary files left in $1: $left"
}

have_gnuplot=
if command -v gnuplot >/dev/null 2>&1; then
    have_gnuplot=1
else
    skip "cli_gnuplot.sh: gnuplot (gnuplot-nox) not installed: the PNGs are not checked"
fi

# IDX3 images: 4 images of 28x28.
{
    printf '\000\000\010\003\000\000\000\004\000\000\000\034\000\000\000\034'
    LC_ALL=C awk 'BEGIN { for (i = 0; i < 3136; i++) printf "%c", (i * 37) % 251 + 1 }'
} >"$tmp/images.idx"
nl='
'

# --- 1. msf spectrum: a hostile --title ---------------------------------------
O=$tmp/w/title
expect 0 "wrote $O" "$MSF" spectrum "$tmp/images.idx" --out "$O" \
    --title "t\`touch pwned_title\`'\`touch pwned_q\`'\"\`touch pwned_dq\`\"${nl}set output 'pwned_nl'${nl}@term \\"
no_pwned "--title"
pngs "$O" spectrum.png bands.png wavelet.png
no_tmp "$O"
# The title is in the script as one quoted string on one line.
grep -qF "set title 't\`touch pwned_title\`'.\"'\".'\`touch pwned_q\`'.\"'\".'\"\`touch pwned_dq\`\" set output '.\"'\".'pwned_nl'.\"'\".' @term \\: radially" \
    "$O/plots.gp" || fail "plots.gp: the title is not quoted as expected: $(grep '^set title' "$O/plots.gp" | head -1)"

# --- 2. msf spectrum: input and reference file names (the default title) ------
IN="$tmp/in\`touch pwned_in\`'x'\".idx"
REF="$tmp/ref'\`touch pwned_ref\`'.idx"
cp "$tmp/images.idx" "$IN"
cp "$tmp/images.idx" "$REF"
O=$tmp/w/names
expect 0 "wrote $O" "$MSF" spectrum "$IN" --reference "$REF" --out "$O"
no_pwned "input and reference file names"
pngs "$O" spectrum.png bands.png wavelet.png bands_vs_reference.png
no_tmp "$O"

# --- 3. msf run: series name and swept weights path -----------------------------
# (Experiment and run names are folder names, letters, digits and -_. only:
# tests/cli_run_safety.sh.) The series name is free text and reaches plots.gp
# with a seed sweep; ${IFS} makes a blank in the commands.
W="$tmp/wts/w\`touch\${IFS}pwned_w\`'q\"\`touch\${IFS}pwned_w2\`.h5"
mkdir "$tmp/wts"
cp tests/golden/run_pixel_dit.h5 "$W"
W_yaml=$(printf '%s' "$W" | sed 's/"/\\"/g')
cat >"$tmp/exp.yaml" <<EOF
experiment: e_names
defaults:
  seed: 1
  num_samples: 4
  batch: 4
  shard_size: 4
  grid: 4
  sampler: {steps: "3", sampler: ddpm, cfg_mode: all, label_mode: balanced}
  spectrum: {max: 4}
  evaluator: {featnet: tests/golden/classifier_tiny.h5, reference: tests/golden/run_reference.npz, batch: 4}
runs:
  - name: r
    series: "s\`touch\${IFS}pwned_r\`'q\"\\n@x\\r''\`touch\${IFS}pwned_r2\`"
    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5}
    sweep:
      model.weights: ["$W_yaml"]
      sampler.cfg_scale: [1.0, 3.0]
      seed: [1, 2]
EOF
R=$tmp/w/results
expect 0 "wrote $R/e_names.*4 points" "$MSF" run "$tmp/exp.yaml" --results-dir "$R"
no_pwned "msf run names"
E=$(find "$R" -mindepth 1 -maxdepth 1 -name 'e*' -type d)
[ -d "$E" ] || fail "msf run: no experiment folder in $R"
pngs "$E" fid_vs_gflops.png fid_vs_guidance.png
no_tmp "$E"
n=0
for sp in "$E"/points/*/spectrum; do
    pngs "$sp" spectrum.png bands.png wavelet.png
    n=$((n + 1))
done
[ "$n" -eq 4 ] || fail "msf run: expected 4 points with spectra, found $n"
pngs "$E" fid_vs_gflops_seeds.png
grep -q "yerrorlines title 's" "$E/plots.gp" || fail "plots.gp: the series name is not a quoted key entry"
[ "$(grep -c '^# s' "$E/seeds.dat")" -eq 1 ] || fail "seeds.dat: expected 1 one-line series header"
# Series names with blanks stay whole (word() would split them).
grep -q "^array names\[2\] = \['r" "$E/plots.gp" || fail "plots.gp: series names not in an array"
# The data headers stay on one line each.
[ "$(grep -c '^# r' "$E/plots.dat")" -eq 2 ] || fail "plots.dat: expected 2 one-line series headers"

# --- 4. a failing gnuplot fails the command, and leaves no PNG behind ---------
cat >"$tmp/fake-gnuplot" <<'EOF'
#!/bin/sh
# fake gnuplot: $1 = -e, $2 = suffix='.tmp-PID', $3 = the script. FAKE_MODE:
# fail (exit 1), empty (0-byte outputs, as on a full disk), cut (a PNG cut short).
suf=${2#suffix=\'}
suf=${suf%\'}
case $FAKE_MODE in fail) exit 1 ;; esac
for n in $(sed -n "s/^set output '\(.*\)'\.suffix$/\1/p" "$3"); do
    case $FAKE_MODE in
    empty) : >"$n$suf" ;;
    cut) head -c 100 "$FAKE_PNG" >"$n$suf" ;;
    esac
done
exit 0
EOF
chmod +x "$tmp/fake-gnuplot"
FAKE_PNG=$tmp/w/title/spectrum.png
export FAKE_PNG
for mode in fail empty cut; do
    case $mode in
    fail) msg="fake-gnuplot failed on .*plots.gp (exit status 1)" ;;
    empty) msg="wrote an incomplete .*/spectrum.png (0 bytes)" ;;
    cut) msg="wrote an incomplete .*/spectrum.png (100 bytes, no PNG end)" ;;
    esac
    if [ $mode = cut ] && [ -z "$have_gnuplot" ]; then continue; fi
    O=$tmp/w/fail_$mode
    expect 1 "$msg" env MSF_GNUPLOT="$tmp/fake-gnuplot" FAKE_MODE=$mode "$MSF" spectrum "$tmp/images.idx" --out "$O"
    grep -q "no plots (the CSV and HDF5 files are written)" "$tmp/log" || fail "spectrum $mode: message lacks context"
    [ -s "$O/spectrum.csv" ] || fail "spectrum $mode: spectrum.csv missing"
    if ls "$O" | grep -q png; then fail "spectrum $mode: PNG files left: $(ls "$O" | tr '\n' ' ')"; fi
    # msf run: the points are reused, the plots fail.
    msg=$(printf '%s' "$msg" | sed 's/spectrum\.png/fid_vs_gflops.png/')
    expect 1 "plots of .*$msg" env MSF_GNUPLOT="$tmp/fake-gnuplot" FAKE_MODE=$mode "$MSF" run "$tmp/exp.yaml" \
        --results-dir "$R"
    no_tmp "$E"
done
[ -z "$have_gnuplot" ] || pngs "$E" fid_vs_gflops.png fid_vs_guidance.png  # earlier plots are kept

# --- 5. no gnuplot: a warning, exit 0 -------------------------------------------
O=$tmp/w/none
expect 0 "warning: gnuplot not found" env MSF_GNUPLOT=/nonexistent/gnuplot "$MSF" spectrum "$tmp/images.idx" --out "$O"
[ -s "$O/plots.gp" ] || fail "without gnuplot: plots.gp missing"
expect 0 "warning: gnuplot not found" env MSF_GNUPLOT=/nonexistent/gnuplot "$MSF" run "$tmp/exp.yaml" --results-dir "$R"
no_pwned "reruns"

finish cli_gnuplot.sh
