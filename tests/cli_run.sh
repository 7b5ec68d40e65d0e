#!/bin/sh
# cli_run.sh: `msf run` on experiment files: config errors with file:line,
# missing checkpoints, sweeps and --dry-run, every smoke experiment end to end
# (experiments/smoke/, tiny models from tests/golden), the lock, --force, a
# changed config, kill -9 in the middle and resume (the final metrics and
# images must equal those of an uninterrupted run), and `msf report`.
# Run from the repository root by `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
. tests/testlib.sh

# has FILE...: each file exists.
has() {
    for f in "$@"; do
        [ -e "$f" ] || fail "missing output $f"
    done
}

# yaml NAME: write stdin to $tmp/cfg/NAME (configs in a folder of their own).
mkdir "$tmp/cfg"
yaml() { cat >"$tmp/cfg/$1"; }

# --- 1. config errors name file:line and the key ----------------------------
yaml base.yaml <<'EOF'
experiment: bad
defaults:
  num_samples: 4
runs:
  - name: a
    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5}
EOF
sed 's/^    model:/    modle: {}\n    model:/' "$tmp/cfg/base.yaml" >"$tmp/cfg/unknown.yaml"
expect_err 1 "unknown.yaml:6: unknown key 'runs\[0\].modle'" "$MSF" run "$tmp/cfg/unknown.yaml" --results-dir "$tmp/e"
sed 's/num_samples: 4/num_samples: many/' "$tmp/cfg/base.yaml" >"$tmp/cfg/type.yaml"
expect_err 1 "type.yaml:3: 'runs\[0\].num_samples' expects an integer, got a scalar 'many'" \
    "$MSF" run "$tmp/cfg/type.yaml" --results-dir "$tmp/e"
sed 's/"1.5"/1.5/; s/^  num_samples: 4$/  num_samples: 4\n  sampler: {cfg_scale: "1.5"}/' "$tmp/cfg/base.yaml" >"$tmp/cfg/quoted.yaml"
expect_err 1 "quoted.yaml:4: 'runs\[0\].sampler.cfg_scale' expects a number, got a quoted string '1.5'" \
    "$MSF" run "$tmp/cfg/quoted.yaml" --results-dir "$tmp/e"
sed 's/num_samples: 4/seed: 1/' "$tmp/cfg/base.yaml" >"$tmp/cfg/missing.yaml"
expect_err 1 "missing.yaml:5: runs\[0\]: 'num_samples' is missing" "$MSF" run "$tmp/cfg/missing.yaml" --results-dir "$tmp/e"
sed 's/kind: dit/kind: unet/' "$tmp/cfg/base.yaml" >"$tmp/cfg/choice.yaml"
expect_err 1 "choice.yaml:6: 'runs\[0\].model.kind' is 'unet'; expected one of: dit, msf" \
    "$MSF" run "$tmp/cfg/choice.yaml" --results-dir "$tmp/e"
printf 'experiment: x\nruns:\n  - name: a\n    model: [1\n' >"$tmp/cfg/syntax.yaml"
expect_err 1 "syntax.yaml:5: YAML syntax error" "$MSF" run "$tmp/cfg/syntax.yaml" --results-dir "$tmp/e"
sed 's/^experiment: bad/experiment: bad\nexperiment: again/' "$tmp/cfg/base.yaml" >"$tmp/cfg/dup.yaml"
expect_err 1 "dup.yaml:2: duplicate key 'experiment' (first at line 1)" "$MSF" run "$tmp/cfg/dup.yaml" --results-dir "$tmp/e"
sed 's|model: {kind|model: {use: nowhere.yaml, kind|' "$tmp/cfg/base.yaml" >"$tmp/cfg/use.yaml"
expect_err 1 "use.yaml:6: use: cannot open config $tmp/cfg/nowhere.yaml" "$MSF" run "$tmp/cfg/use.yaml" --results-dir "$tmp/e"
cat "$tmp/cfg/base.yaml" - >"$tmp/cfg/sweep.yaml" <<'EOF'
    sweep: {sampler.steps: [10, 20], sampler.cfgscale: [1.0]}
EOF
expect_err 1 "sweep.yaml:7: runs\[0\].sweep: 'sampler.cfgscale' is not a field that can be swept" \
    "$MSF" run "$tmp/cfg/sweep.yaml" --results-dir "$tmp/e"
sed 's/cfgscale: \[1.0\]/cfg_scale: [1.0, high]/' "$tmp/cfg/sweep.yaml" >"$tmp/cfg/sweep2.yaml"
expect_err 1 "sweep2.yaml:7: 'runs\[0\].sweep.sampler.cfg_scale' expects a number, got a scalar 'high'" \
    "$MSF" run "$tmp/cfg/sweep2.yaml" --results-dir "$tmp/e"
# A piece pulled in with use: reports its own file:line.
printf 'kind: dit\nweights: tests/golden/run_pixel_dit.h5\nheight: 3\n' >"$tmp/cfg/piece.yaml"
sed 's|model: {kind: dit, weights: tests/golden/run_pixel_dit.h5}|model: {use: piece.yaml}|' "$tmp/cfg/base.yaml" >"$tmp/cfg/usebad.yaml"
expect_err 1 "piece.yaml:3: unknown key 'runs\[0\].model.height'" "$MSF" run "$tmp/cfg/usebad.yaml" --results-dir "$tmp/e"
expect_err 1 "cannot open config" "$MSF" run "$tmp/cfg/none.yaml" --results-dir "$tmp/e"
expect 2 "usage: msf run" "$MSF" run
expect 2 "unexpected argument '--bogus'" "$MSF" run "$tmp/cfg/base.yaml" --bogus

# --- 2. the paper experiments: dry runs, and clear messages for missing files --
for x in imagenet256 imagenet512 ablate_residual_steps spectrum_latents; do
    expect 0 "total: .* samples" "$MSF" run "experiments/$x.yaml" --dry-run
done
expect 0 "msf,residual_steps=100,cfg_scale=1.5 *10000 *10 250+100" "$MSF" run experiments/ablate_residual_steps.yaml --dry-run
expect 0 "^dit_xl2 *50000 *50 250 *1.5 *59310.71" "$MSF" run experiments/imagenet256.yaml --dry-run
if [ ! -e checkpoints/dit_xl2_256.h5 ]; then
    expect_err 1 "missing model weights: checkpoints/dit_xl2_256.h5" "$MSF" run experiments/imagenet256.yaml --results-dir "$tmp/e"
    expect_err 1 "to get it: wget https://dl.fbaipublicfiles.com/DiT/models/DiT-XL-2-256x256.pt" \
        "$MSF" run experiments/imagenet256.yaml --results-dir "$tmp/e"
    expect_err 1 "missing reference batch: checkpoints/VIRTUAL_imagenet512.npz" \
        "$MSF" run experiments/imagenet512.yaml --results-dir "$tmp/e"
fi

# --- 3. sweeps: the grid of a smoke experiment ------------------------------
expect 0 "7 grid points" "$MSF" run experiments/smoke/ablate_residual_steps.yaml --dry-run
for p in "msf,residual_steps=1,cfg_scale=1.0" "msf,residual_steps=1,cfg_scale=1.5" "msf,residual_steps=5,cfg_scale=1.5"; do
    grep -q "^$p " "$tmp/log" || fail "dry run lacks grid point $p"
done

# --- 4. every smoke experiment end to end -----------------------------------
R=$tmp/w/results
for x in imagenet256 imagenet512 ablate_residual_steps spectrum_latents pixels_metrics; do
    expect 0 "wrote $R/smoke_$x: manifest.json" "$MSF" run "experiments/smoke/$x.yaml" --results-dir "$R"
    has "$R/smoke_$x/manifest.json" "$R/smoke_$x/metrics.json" "$R/smoke_$x/metrics.csv" "$R/smoke_$x/table.md" \
        "$R/smoke_$x/plots.gp"
done
for p in dit dit_nocfg msf; do
    has "$R/smoke_imagenet256/points/$p/grid.png" "$R/smoke_imagenet256/points/$p/images.npz" \
        "$R/smoke_imagenet256/points/$p/point.json"
done
has "$R/smoke_spectrum_latents/points/msf/spectrum/bands.csv" "$R/smoke_spectrum_latents/points/dit/spectrum/spectrum.csv"
if command -v gnuplot >/dev/null 2>&1; then
    has "$R/smoke_ablate_residual_steps/seconds_vs_residual_steps.png" "$R/smoke_ablate_residual_steps/seconds_vs_gflops.png" \
        "$R/smoke_pixels_metrics/fid_vs_gflops.png" "$R/smoke_pixels_metrics/class_consistency_vs_guidance.png" \
        "$R/smoke_ablate_residual_steps/seconds_vs_guidance.png"
fi
# A curve needs two points: smoke_imagenet256's runs have one point each, so
# nothing is plotted against residual steps, and no run sweeps the guidance
# scale: no guidance.dat (it was written empty) and no guidance plot. Against
# GFLOPs the three points are markers. A rerun removes such files left behind.
I=$R/smoke_imagenet256
[ ! -e "$I/guidance.dat" ] || fail "smoke_imagenet256: guidance.dat written with no guidance series"
if grep -q 'vs_residual_steps\|vs_guidance' "$I/plots.gp"; then
    fail "smoke_imagenet256/plots.gp: a plot of one-point series: $(grep '^set output' "$I/plots.gp" | tr '\n' ' ')"
fi
grep -q '^plot .plots.dat. index 0 using 2:3 with points pt 7 title names\[1\], \\$' "$I/plots.gp" ||
    fail "smoke_imagenet256/plots.gp: the seconds vs GFLOPs plot does not draw one-point series as markers"
grep -q "^set xlabel 'sampling GFLOPs per sample (log scale)'" "$I/plots.gp" || fail "plots.gp: GFLOPs axis label"
grep -q "^set xlabel 'residual sampling steps (log scale)'" "$R/smoke_ablate_residual_steps/plots.gp" ||
    fail "plots.gp: residual steps axis label"
: >"$I/guidance.dat"
: >"$I/seconds_vs_residual_steps.png"
expect 0 "wrote $I: manifest.json" "$MSF" run experiments/smoke/imagenet256.yaml --results-dir "$R"
[ ! -e "$I/guidance.dat" ] && [ ! -e "$I/seconds_vs_residual_steps.png" ] ||
    fail "smoke_imagenet256: a rerun kept an empty guidance.dat or a plot it does not make"
if command -v gnuplot >/dev/null 2>&1; then
    has "$I/seconds_vs_gflops.png"
fi
# Each grid has its legend grid.txt: row by row, the class of each image (the
# labels of the shards: balanced, 0..6 for the 7-class fixture). Names only
# where the classes are known: the tiny classifier is not Fashion-MNIST's
# ten-class network, and a run without an evaluator has no names.
L="$R/smoke_pixels_metrics/points/dit,cfg_scale=1.0/grid.txt"
[ "$(grep -c '^row ' "$L" 2>/dev/null)" -eq 4 ] && grep -q '^row 1: 0 | 1 | 2 | 3$' "$L" &&
    grep -q '^row 2: 4 | 5 | 6 | 0$' "$L" && grep -q '^# class names: unknown' "$L" ||
    fail "smoke_pixels_metrics: grid.txt is not the 4x4 legend of balanced labels: $(cat "$L" 2>&1)"
[ "$(grep -c '^row ' "$I/points/msf/grid.txt" 2>/dev/null)" -eq 3 ] || fail "smoke_imagenet256: no 3-row grid.txt"
# With the Fashion-MNIST classifier as the evaluator, the legend names the classes.
cat >"$tmp/cfg/names.yaml" <<EOF
experiment: names
defaults:
  seed: 0
  num_samples: 4
  batch: 4
  shard_size: 2
  grid: 3
  sampler: {steps: "2", sampler: ddpm, cfg_scale: 1.0, cfg_mode: all, label_mode: balanced}
  evaluator: {featnet: models/fmnist_classifier.h5, reference: tests/golden/run_reference.npz, batch: 4}
runs:
  - name: dit
    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5}
EOF
expect 0 "wrote" "$MSF" run "$tmp/cfg/names.yaml" --results-dir "$R"
L=$R/names/points/dit/grid.txt
grep -q '^row 1: 0 T-shirt/top | 1 Trouser$' "$L" && grep -q '^row 2: 2 Pullover$' "$L" &&
    grep -q "^# class names: Fashion-MNIST's" "$L" || fail "names: grid.txt lacks the class names: $(cat "$L" 2>&1)"
# guidance.dat: one block per run and step setting swept over guidance, rows
# in sweep order; the class-consistency column matches metrics.csv.
G=$R/smoke_pixels_metrics/guidance.dat
[ "$(grep -c '^# ' "$G")" -eq 1 ] && grep -q '^# dit,steps=20$' "$G" || fail "guidance.dat: expected one block 'dit,steps=20'"
[ "$(awk '!/^#/ && NF' "$G" | cut -d' ' -f1 | tr '\n' ' ')" = "1 3 " ] || fail "guidance.dat: expected guidance 1 then 3"
# (the quoted point name "dit,cfg_scale=3.0" holds one comma: class_consistency is field 16)
cc_csv=$(awk -F, 'NR == 3 { print $16 }' "$R/smoke_pixels_metrics/metrics.csv")
cc_dat=$(awk '!/^#/ && NF { n++ } n == 2 { print $9; exit }' "$G")
awk -v a="$cc_csv" -v b="$cc_dat" 'BEGIN { exit !(a + 0 == b + 0 && a != "") }' ||
    fail "guidance.dat class consistency '$cc_dat' differs from metrics.csv '$cc_csv'"
[ "$(grep -c '^# msf,steps=10+' "$R/smoke_ablate_residual_steps/guidance.dat")" -eq 3 ] ||
    fail "smoke_ablate_residual_steps/guidance.dat: expected a block per residual step setting"
grep -q '"git_commit"' "$R/smoke_imagenet256/manifest.json" || fail "manifest lacks git_commit"
grep -q '"libyaml"' "$R/smoke_imagenet256/manifest.json" || fail "manifest lacks library versions"
# 12 images of 16x16 RGB (tiny VAE), 24 of 32x32 grey (pixel model).
expect 0 "12 images 3x16x16" "$MSF" spectrum "$R/smoke_imagenet256/points/msf/images.npz" --out "$tmp/w/sp" --no-plots
expect 0 "" awk -F, 'NR > 1 && $10 == "" { bad = 1 } END { exit bad }' "$R/smoke_pixels_metrics/metrics.csv"
[ "$(wc -l <"$R/smoke_ablate_residual_steps/metrics.csv")" -eq 8 ] || fail "ablation metrics.csv should have 7 rows"
# The base cache: the ablation's points share the base stage, drawn once per
# process; a point run alone (a fresh process, no cache) gives the same images.
sed "s|\.\./\.\./configs|$PWD/configs|g; s/\[1, 2, 5\]/[5]/; s/\[1\.0, 1\.5\]/[1.5]/" \
    experiments/smoke/ablate_residual_steps.yaml >"$tmp/cfg/one_point.yaml"
expect 0 "wrote" "$MSF" run "$tmp/cfg/one_point.yaml" --results-dir "$tmp/w/one"
P="msf,residual_steps=5,cfg_scale=1.5"
cmp -s "$R/smoke_ablate_residual_steps/points/$P/images.npz" "$tmp/w/one/smoke_ablate_residual_steps/points/$P/images.npz" ||
    fail "$P: images with a cached base differ from the same point run alone"
# A finished experiment is not run again.
expect 0 "done before, reused" "$MSF" run experiments/smoke/imagenet256.yaml --results-dir "$R"

# --- 5. one writer at a time; a changed config; --force ------------------------
if command -v flock >/dev/null 2>&1; then
    flock "$R/smoke_imagenet256/.lock" sleep 3 &
    sleep 1
    expect 1 "another .msf run. is writing $R/smoke_imagenet256" "$MSF" run experiments/smoke/imagenet256.yaml --results-dir "$R"
    wait
fi
sed "s|\.\./\.\./configs|$PWD/configs|g; s/seed: 0/seed: 1/" experiments/smoke/imagenet256.yaml >"$tmp/cfg/changed.yaml"
expect 1 "was made by another config of 'dit'.*--force" "$MSF" run "$tmp/cfg/changed.yaml" --results-dir "$R"
expect 0 "wrote" "$MSF" run "$tmp/cfg/changed.yaml" --results-dir "$R" --force
grep -q "reused" "$tmp/log" && fail "--force reused earlier results"

# --- 5b. new weights under the same path: the point and its shards are stale ----
# The config text is unchanged, so only the inputs hash (the weight file's
# content) tells the old results from what the new weights would give.
if /usr/bin/python3 -c "import h5py, numpy" 2>/dev/null; then
    mkdir "$tmp/wt"
    cp tests/golden/run_pixel_dit.h5 "$tmp/wt/dit.h5"
    sed "s|tests/golden/run_pixel_dit.h5|$tmp/wt/dit.h5|; s|tests/golden/|$PWD/tests/golden/|g; s/num_samples: 24/num_samples: 8/; s/\[1.0, 3.0\]/[3.0]/" \
        experiments/smoke/pixels_metrics.yaml >"$tmp/cfg/weights.yaml"
    W=$tmp/w/wt/smoke_pixels_metrics/points/dit,cfg_scale=3.0
    expect 0 "wrote" "$MSF" run "$tmp/cfg/weights.yaml" --results-dir "$tmp/w/wt"
    grep -q '"inputs_hash": "[0-9a-f]\{16\}"' "$W/point.json" || fail "point.json lacks the inputs hash"
    cp "$W/images.npz" "$tmp/wt/before.npz"
    expect 0 "done before, reused" "$MSF" run "$tmp/cfg/weights.yaml" --results-dir "$tmp/w/wt"
    /usr/bin/python3 -c "import h5py, sys
with h5py.File(sys.argv[1], 'r+') as f: f['final_layer.linear.bias'][...] += 0.5" "$tmp/wt/dit.h5" ||
        fail "cannot edit $tmp/wt/dit.h5"
    # A finished point: recomputed, its old shards removed, without --force.
    expect 0 "removed the old inputs. samples (2 shard files, merged images)" "$MSF" run "$tmp/cfg/weights.yaml" --results-dir "$tmp/w/wt"
    grep -q "done before, reused" "$tmp/log" && fail "a point of changed weights was reused"
    cmp -s "$W/images.npz" "$tmp/wt/before.npz" && fail "new weights gave the same images"
    # An unfinished point (shards, no point.json) whose weights change: an error.
    rm "$W/point.json"
    cp tests/golden/run_pixel_dit.h5 "$tmp/wt/dit.h5"
    expect_err 1 "shard_00000.h5 was made with other model weights than 'dit,cfg_scale=3.0' has now.*--force" \
        "$MSF" run "$tmp/cfg/weights.yaml" --results-dir "$tmp/w/wt"
    expect 0 "wrote" "$MSF" run "$tmp/cfg/weights.yaml" --results-dir "$tmp/w/wt" --force
    cmp -s "$W/images.npz" "$tmp/wt/before.npz" || fail "the original weights, restored, gave other images"
    # A point.json from before input hashing is reused, with a warning.
    grep -v '"inputs_hash"' "$W/point.json" >"$tmp/wt/p.json" && cp "$tmp/wt/p.json" "$W/point.json"
    expect 0 "done before, reused" "$MSF" run "$tmp/cfg/weights.yaml" --results-dir "$tmp/w/wt"
    grep -q "point.json predates input hashing" "$tmp/log" || fail "no warning for a point.json without inputs hash"
else
    echo "cli_run.sh: skipping the changed-weights check (no python3 h5py)"
fi

# --- 6. kill -9 in the middle, resume: the same numbers -------------------------
X=experiments/smoke/pixels_metrics.yaml
"$MSF" --quiet run "$X" --results-dir "$tmp/w/b" >"$tmp/run.log" 2>&1 &
pid=$!
i=0
while [ ! -e "$tmp/w/b/smoke_pixels_metrics/points/dit,cfg_scale=1.0/shards/shard_00001.h5" ] && [ $i -lt 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -e "$tmp/w/b/smoke_pixels_metrics/points/dit,cfg_scale=3.0/point.json" ] && echo "note: the run finished before the kill"
expect 0 "wrote" "$MSF" run "$X" --results-dir "$tmp/w/b"
# Every field but the timing (seconds per sample) must match; quoted fields
# (point names) are dropped first, as they hold commas.
sed 's/"[^"]*"//g' "$R/smoke_pixels_metrics/metrics.csv" | cut -d, -f1-15,17- >"$tmp/a.csv"
sed 's/"[^"]*"//g' "$tmp/w/b/smoke_pixels_metrics/metrics.csv" | cut -d, -f1-15,17- >"$tmp/b.csv"
cmp -s "$tmp/a.csv" "$tmp/b.csv" || fail "metrics after kill and resume differ: $(diff "$tmp/a.csv" "$tmp/b.csv")"
for p in "dit,cfg_scale=1.0" "dit,cfg_scale=3.0"; do
    cmp -s "$R/smoke_pixels_metrics/points/$p/images.npz" "$tmp/w/b/smoke_pixels_metrics/points/$p/images.npz" ||
        fail "$p: images after kill and resume differ"
done
left=$(find "$tmp/w/b" -name '*.tmp-*')
[ -z "$left" ] || fail "temporary files left after the resumed run: $left"

# --- 7. msf report ---------------------------------------------------------------
cat >"$tmp/reported.csv" <<'EOF'
source,table,model,resolution,cfg_scale,steps,metric,value,note
DiT paper,Table 2,DiT-XL/2,256,1.5,250,FID,2.27,DiT-XL/2-G
DiT paper,Table 2,DiT-XL/2,256,1.0,250,IS,121.50,no guidance
MSF paper,abstract,MSF,256,,,FID,2.08,headline
Other paper,Table 9,DiT-XL/2,128,1.0,250,FID,9.99,nothing runs this
DiT paper,Table 4,DiT-B/4,256,1.0,250,Gflops,5.56,
EOF
printf '# Findings\n\nThe residual saturates at 2 steps (a hand-written line).\n\n## A finding\n' \
    >"$R/smoke_ablate_residual_steps/FINDINGS.md"
expect 0 "wrote $tmp/w/REPRODUCTION.md" "$MSF" report --results-dir "$R" --reported "$tmp/reported.csv" --out "$tmp/w/REPRODUCTION.md"
grep -q "| DiT-XL/2 | 256 | 1.5 | 250 | FID | 2.27 | n/a | smoke_imagenet256 | dit |" "$tmp/w/REPRODUCTION.md" ||
    fail "report lacks the reported vs reproduced row: $(cat "$tmp/w/REPRODUCTION.md")"
grep -q "| MSF | 256 |  |  | FID | 2.08 | n/a | smoke_imagenet256 | msf |" "$tmp/w/REPRODUCTION.md" || fail "report lacks the MSF row"
grep -q "| DiT-B/4 | 256 | 1.0 | 250 | Gflops | 5.56 | 5.57 | (analytic) |" "$tmp/w/REPRODUCTION.md" ||
    fail "report lacks DiT's Gflops from the architecture"
sed -n '/^## Not reproduced yet/,/^## /p' "$tmp/w/REPRODUCTION.md" | grep -q "| DiT-XL/2 | 128 | 1.0 | 250 | FID | 9.99 | Other paper, Table 9 |" ||
    fail "report does not list an unmatched number as not reproduced"
if command -v gnuplot >/dev/null 2>&1; then
    grep -q "(results/smoke_pixels_metrics/fid_vs_gflops.png)" "$tmp/w/REPRODUCTION.md" || fail "report lacks the plots"
fi
sed -n '/^## smoke_ablate_residual_steps/,/^## /p' "$tmp/w/REPRODUCTION.md" | grep -q "^The residual saturates at 2 steps" ||
    fail "report lacks the experiment's FINDINGS.md"
grep -q "^# Findings" "$tmp/w/REPRODUCTION.md" && fail "report kept FINDINGS.md's title"
grep -q "^### A finding" "$tmp/w/REPRODUCTION.md" || fail "report did not put FINDINGS.md's headings under the experiment"
expect_err 1 "cannot open $tmp/nothing.csv" "$MSF" report --results-dir "$R" --reported "$tmp/nothing.csv" --out "$tmp/e/R.md"

finish cli_run.sh
