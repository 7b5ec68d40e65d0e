#!/bin/sh
# cli_run_given.sh: `msf run` on an external sample batch (a run with
# `samples: PATH.npz` and no model: its metrics equal `msf evaluate` on the
# same file, it goes into metrics.csv/json, table.md and `msf report`, a
# changed file recomputes it) and `msf run --only` (only the named points
# run, by point or run name, names holding commas; an unknown name exits 2
# listing the points; the others' results are kept and listed, un-run points
# are named in table.md and not marked failed; --force --only deletes only
# the selected points). Issue 22, items 3 and 5.
# Run from the repository root by `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh

NET=tests/golden/classifier_tiny.h5
REF=tests/golden/run_reference.npz
W=$tmp/w
mkdir "$tmp/cfg"
HAVE_PY=0
"$PY" -c 'import h5py, numpy' >/dev/null 2>&1 && HAVE_PY=1

# A sample batch as DiT's sample_ddp.py writes one (arr_0 uint8 NHWC), from
# the pixel-space DiT, and the same with labels (arr_1) when numpy is here.
expect 0 "" "$MSF" sample --weights tests/golden/run_pixel_dit.h5 --num 12 --seed 2 --steps 5 --cfg-scale 1 \
    --label-mode balanced --out "$W/s.h5" --images "$tmp/batch.npz"
SAMPLES=$tmp/batch.npz
if [ $HAVE_PY -eq 1 ]; then
    "$PY" - "$tmp" "$W/s.h5" <<'EOF' || fail "cannot write $tmp/labelled.npz"
import sys, h5py, numpy as np
x = np.load(f"{sys.argv[1]}/batch.npz")["arr_0"]
y = h5py.File(sys.argv[2], "r")["labels"][()] % 7  # classifier_tiny has 7 classes
np.savez(f"{sys.argv[1]}/labelled.npz", x, y)
EOF
    SAMPLES=$tmp/labelled.npz
fi
cp "$SAMPLES" "$tmp/given.npz"

cat >"$tmp/cfg/x.yaml" <<EOF
experiment: x
defaults:
  seed: 1
  num_samples: 8
  batch: 4
  shard_size: 4
  grid: 4
  sampler: {steps: "5", cfg_scale: 1.0, cfg_mode: all, label_mode: balanced}
  evaluator: {featnet: $NET, reference: $REF, batch: 8}
runs:
  - name: dit
    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5}
    sweep: {sampler.steps: ["5", "3,2"]}
  - name: other
    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5}
  - name: ext
    samples: $tmp/given.npz
    num_samples: 12
    reproduces: {model: DiT-XL/2, resolution: 256, cfg_scale: 1.5, steps: "250"}
EOF

# --- 1. the grid, --dry-run and --only's names -------------------------------
expect 0 "4 grid points" "$MSF" run "$tmp/cfg/x.yaml" --dry-run
grep -q "^ext *given *- *- *- *?" "$tmp/log" || fail "dry run: the given samples' row"
expect 0 "1 grid point" "$MSF" run "$tmp/cfg/x.yaml" --dry-run --only "dit,steps=3,2"
grep -q "^dit,steps=3,2 " "$tmp/log" || fail "--only with a point name holding commas"
expect 0 "3 grid points" "$MSF" run "$tmp/cfg/x.yaml" --dry-run --only "dit,ext"
expect 0 "2 grid points" "$MSF" run "$tmp/cfg/x.yaml" --dry-run --only "dit,steps=5,other"
expect 0 "2 grid points" "$MSF" run "$tmp/cfg/x.yaml" --dry-run --only other --only ext
expect_err 2 "msf run: --only: 'dit,steps=7' is no point or run of $tmp/cfg/x.yaml; its points are:" \
    "$MSF" run "$tmp/cfg/x.yaml" --only "other,dit,steps=7" --results-dir "$tmp/e"
grep -q "^  dit,steps=3,2$" "$tmp/log" && grep -q "^  ext$" "$tmp/log" || fail "--only: the known points are not listed"
expect_err 2 "'nope' is no point or run" "$MSF" run "$tmp/cfg/x.yaml" --only nope --results-dir "$tmp/e"
expect_err 2 "msf run: --only needs a value" "$MSF" run "$tmp/cfg/x.yaml" --only
expect 0 "--only LIST" "$MSF" run --help

# --- 2. --only runs the named points alone ------------------------------------
R=$W/r/x
expect 0 "wrote $R: .*; 2 points (2 of the experiment's 4 not run yet)" \
    "$MSF" run "$tmp/cfg/x.yaml" --results-dir "$W/r" --only "dit,steps=3,2,ext"
grep -q "^\[2/4\] dit,steps=3,2$" "$tmp/log" && grep -q "^\[4/4\] ext$" "$tmp/log" || fail "--only: the points run"
grep -q "dit,steps=5\|other" "$tmp/log" && fail "--only ran or named points not selected"
[ -e "$R/points/dit,steps=5" ] || [ -e "$R/points/other" ] && fail "--only made folders of points not selected"
[ "$(wc -l <"$R/metrics.csv")" -eq 3 ] || fail "metrics.csv: expected the 2 points run"
grep -q "^Not run yet (no results; .msf run --only. ran other points): dit,steps=5; other$" "$R/table.md" ||
    fail "table.md does not name the points not run"
grep -q "failed" "$R/table.md" "$R/metrics.json" && fail "points not run are marked failed"
grep -q "| ext | samples | n/a | n/a | 12 | [0-9]" "$R/table.md" || fail "table.md: the given samples' row"
cp "$R/points/ext/point.json" "$tmp/ext_point.json"
# A second subset: the earlier points' results stay and are listed, untouched.
expect 0 "; 3 points (1 of the experiment's 4 not run yet)" "$MSF" run "$tmp/cfg/x.yaml" --results-dir "$W/r" --only other
cmp -s "$R/points/ext/point.json" "$tmp/ext_point.json" || fail "--only other changed point ext"
grep -q "^\"ext\"," "$R/metrics.csv" && grep -q "^\"dit,steps=3,2\"," "$R/metrics.csv" ||
    fail "metrics.csv lost the points of the earlier --only run"
grep -q "Not run yet .*: dit,steps=5$" "$R/table.md" || fail "table.md: the one point not run"
# --force --only: only the selected points start over.
expect 0 "wrote" "$MSF" run "$tmp/cfg/x.yaml" --results-dir "$W/r" --only other --force
grep -q "done before" "$tmp/log" && fail "--force --only reused the selected point"
[ -e "$R/points/dit,steps=3,2/point.json" ] && [ -e "$R/points/ext/point.json" ] || fail "--force --only deleted other points"
# The whole experiment: the subset runs' points are reused.
expect 0 "; 4 points$" "$MSF" run "$tmp/cfg/x.yaml" --results-dir "$W/r"
[ "$(grep -c "done before, reused" "$tmp/log")" -eq 3 ] || fail "the full run did not reuse the 3 points run before"
grep -q "Not run yet" "$R/table.md" && fail "table.md names points not run after a full run"

# --- 3. a point of given samples = msf evaluate on the file ------------------
expect 0 "" "$MSF" evaluate "$REF" "$tmp/given.npz" --net "$NET" --batch 8 --json "$W/eval.json"
if [ $HAVE_PY -eq 1 ]; then
    "$PY" - "$R/metrics.json" "$W/eval.json" "$R/metrics.csv" >"$tmp/py.log" 2>&1 <<'EOF' || { fail "ext's metrics differ from msf evaluate"; cat "$tmp/py.log"; }
import csv, json, math, sys
run = {p["point"]: p for p in json.load(open(sys.argv[1]))["points"]}["ext"]
ev = json.load(open(sys.argv[2]))
for k in ("fid", "is", "precision", "recall", "class_consistency"):
    a, b = run[k], ev["inception_score" if k == "is" else k]
    assert b is not None and a is not None, (k, a, b)
    assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (k, a, b)
assert run["num_samples"] == 12 and run["gflops_per_sample"] is None and run["seconds_per_sample"] is None, run
row = [r for r in csv.DictReader(open(sys.argv[3])) if r["point"] == "ext"][0]
assert row["kind"] == "samples" and row["cfg_scale"] == "" and row["steps"] == "", row
assert row["reproduces_model"] == "DiT-XL/2", row
EOF
fi
[ -e "$R/points/ext/grid.png" ] || fail "no grid.png of the given samples"
# Its legend: the classes of arr_1 (balanced labels mod 7), or none without arr_1.
if [ $HAVE_PY -eq 1 ]; then
    grep -q '^row 1: 0 | 1$' "$R/points/ext/grid.txt" && grep -q '^row 2: 2 | 3$' "$R/points/ext/grid.txt" ||
        fail "grid.txt of the given samples: $(cat "$R/points/ext/grid.txt" 2>&1)"
else
    [ ! -e "$R/points/ext/grid.txt" ] || fail "grid.txt of given samples without labels"
fi
[ -e "$R/points/ext/images.npz" ] && fail "the given samples were copied into the point"
# msf report takes the point like any other (reproduces: DiT-XL/2 FID).
cat >"$tmp/reported.csv" <<'EOF'
source,table,model,resolution,cfg_scale,steps,metric,value,note
DiT paper,Table 2,DiT-XL/2,256,1.5,250,FID,2.27,DiT-XL/2-G
EOF
expect 0 "wrote" "$MSF" report --results-dir "$W/r" --reported "$tmp/reported.csv" --out "$W/REPRODUCTION.md"
grep -q "| DiT-XL/2 | 256 | 1.5 | 250 | FID | 2.27 | [0-9.]* | x | ext |" "$W/REPRODUCTION.md" ||
    fail "msf report lacks the given samples' FID: $(grep DiT-XL "$W/REPRODUCTION.md")"

# A changed samples file (same path): the point is computed again.
expect 0 "done before, reused" "$MSF" run "$tmp/cfg/x.yaml" --results-dir "$W/r" --only ext
"$MSF" sample --weights tests/golden/run_pixel_dit.h5 --num 12 --seed 9 --steps 5 --cfg-scale 1 \
    --out "$W/s9.h5" --images "$tmp/given.npz" >/dev/null 2>&1 || fail "cannot rewrite $tmp/given.npz"
expect 0 "an input file (weights, given samples or bases" "$MSF" run "$tmp/cfg/x.yaml" --results-dir "$W/r" --only ext
grep -q "done before" "$tmp/log" && fail "a changed samples file was reused"

# --- 4. errors ----------------------------------------------------------------
sed 's/num_samples: 12/num_samples: 10/' "$tmp/cfg/x.yaml" >"$tmp/cfg/count.yaml"
expect_err 1 "count.yaml:18: ext: num_samples is 10 but $tmp/given.npz holds 12 images (leave num_samples out" \
    "$MSF" run "$tmp/cfg/count.yaml" --results-dir "$tmp/e"
sed "s|    samples: $tmp/given.npz|    samples: $tmp/none.npz|" "$tmp/cfg/x.yaml" >"$tmp/cfg/gone.yaml"
expect_err 1 "missing sample batch: $tmp/none.npz (first needed by point ext)" "$MSF" run "$tmp/cfg/gone.yaml" --results-dir "$tmp/e"
printf '    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5}\n' >>"$tmp/cfg/x.yaml"
expect_err 1 "x.yaml:20: runs\[2\]: 'model' does not apply to a run of given samples" \
    "$MSF" run "$tmp/cfg/x.yaml" --results-dir "$tmp/e"
printf 'experiment: y\nruns:\n  - name: a\n    num_samples: 4\n' >"$tmp/cfg/nomodel.yaml"
expect_err 1 "nomodel.yaml:3: runs\[0\]: 'model' is missing (required unless the run evaluates given samples)" \
    "$MSF" run "$tmp/cfg/nomodel.yaml" --results-dir "$tmp/e"
printf 'experiment: y\nruns:\n  - name: a\n    samples: %s\n    sweep: {sampler.cfg_scale: [1.0, 2.0]}\n' "$tmp/given.npz" \
    >"$tmp/cfg/sweep.yaml"
expect_err 1 "sweep.yaml:5: runs\[0\].sweep: 'sampler.cfg_scale' does not apply to a run of given samples" \
    "$MSF" run "$tmp/cfg/sweep.yaml" --results-dir "$tmp/e"
if [ $HAVE_PY -eq 1 ]; then
    "$PY" -c "import numpy as np, sys; np.savez(sys.argv[1], np.zeros((3, 8, 8), np.float32))" "$tmp/float.npz"
    printf 'experiment: y\nruns:\n  - name: a\n    samples: %s\n' "$tmp/float.npz" >"$tmp/cfg/float.yaml"
    expect_err 1 "msf run: a: samples: .*$tmp/float.npz" "$MSF" run "$tmp/cfg/float.yaml" --results-dir "$tmp/e"
fi

finish cli_run_given.sh
