#!/bin/sh
# cli_run_seeds.sh: `msf run` with a seed sweep (issue 16). Points that differ
# only in `seed` form one setting; table.md gets an "Over seeds" section,
# metrics_seeds.csv the mean and sample standard deviation (n - 1) of each
# metric (checked against numpy on metrics.csv), seeds.dat and plots with
# error bars, against sampling cost and against model.train_gflops; the
# `series` key joins runs into one curve. Without a seed sweep none of these
# files exist. Run from the repository root by `make test` with MSF set.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh

mkdir "$tmp/cfg"
cat >"$tmp/cfg/seeds.yaml" <<'YAML'
experiment: seeds
defaults:
  num_samples: 8
  batch: 4
  shard_size: 8
  grid: 4
  sampler: {steps: "5", sampler: ddpm, cfg_mode: all, cfg_scale: 2.0, label_mode: balanced}
  evaluator:
    featnet: tests/golden/classifier_tiny.h5
    reference: tests/golden/run_reference.npz
    batch: 8
runs:
  - name: early
    series: tiny
    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5, train_gflops: 300}
    sweep:
      seed: [0, 1, 2]
  - name: late
    series: tiny
    model: {kind: dit, weights: tests/golden/run_pixel_dit.h5, train_gflops: 200}
    sampler: {cfg_scale: 3.0}
    sweep:
      seed: [3, 4]
YAML
R=$tmp/w/r
expect 0 "5 points" "$MSF" run "$tmp/cfg/seeds.yaml" --results-dir "$R"
S=$R/seeds
expect 0 "^| early | dit | 3 | 8 | [0-9.]* ± [0-9.]* |" cat "$S/table.md"
expect 0 "^| late | dit | 2 | 8 | " cat "$S/table.md"
expect 0 '^"early",early,dit,3,"0 1 2",8,' cat "$S/metrics_seeds.csv"
expect 0 '^"late",late,dit,2,"3 4",8,.*,200$' cat "$S/metrics_seeds.csv"
# One series ("tiny") of two settings in seeds.dat.
[ "$(grep -c '^# ' "$S/seeds.dat")" -eq 1 ] && grep -q '^# tiny$' "$S/seeds.dat" ||
    fail "seeds.dat: expected one block 'tiny'"
[ "$(awk '!/^#/ && NF' "$S/seeds.dat" | wc -l)" -eq 2 ] || fail "seeds.dat: expected 2 rows"
# Rows by training compute (late, 200, before early, 300, though listed after
# it), so a curve over milestones runs left to right; both settings cost the
# same per sample, so against sampling cost they are points, not a line.
[ "$(awk '!/^#/ && NF {printf "%s ", $2}' "$S/seeds.dat")" = "200 300 " ] ||
    fail "seeds.dat: rows not ordered by training compute: $(awk '!/^#/ && NF {printf "%s ", $2}' "$S/seeds.dat")"
grep -q "using 1:3:4 with yerrorbars title 'tiny'" "$S/plots.gp" ||
    fail "plots.gp: settings of one sampling cost joined by a line"
grep -q "using 2:3:4 with yerrorlines title 'tiny'" "$S/plots.gp" || fail "plots.gp: training-compute curve not a line"
# The error-bar plots' axes say what is plotted and which way is better.
grep -q "set ylabel 'FID (lower is better)'" "$S/plots.gp" || fail "plots.gp: the FID axis does not say lower is better"
grep -q "set xlabel 'sampling GFLOPs per sample (log scale)'" "$S/plots.gp" ||
    fail "plots.gp: the sampling-cost axis does not say log scale"
cat >"$tmp/check.py" <<'PYEOF'
import csv
import sys

import numpy as np

d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/metrics.csv")))
agg = {r["setting"]: r for r in csv.DictReader(open(f"{d}/metrics_seeds.csv"))}
worst = 0.0
for setting, n in (("early", 3), ("late", 2)):
    mine = [r for r in rows if r["run"] == setting]
    assert len(mine) == n, (setting, len(mine))
    for key in ("fid", "is", "precision", "recall", "class_consistency"):
        v = np.array([float(r[key]) for r in mine])
        mean, sd = float(agg[setting][f"{key}_mean"]), float(agg[setting][f"{key}_sd"])
        # metrics.csv holds 10 significant digits: errors relative to the values' size.
        scale = max(1e-12, float(np.abs(v).max()))
        worst = max(worst, abs(mean - v.mean()) / scale, abs(sd - v.std(ddof=1)) / scale)
        assert int(agg[setting][f"{key}_n"]) == n
        if key == "fid":
            assert v.std(ddof=1) > 0, "seeds gave identical FIDs: the check could not fail"
print(f"seed means and sds match numpy: worst rel {worst:.2g}")
sys.exit(0 if worst < 1e-8 else 1)
PYEOF
expect 0 "seed means and sds match numpy" "$PY" "$tmp/check.py" "$S"
if command -v gnuplot >/dev/null 2>&1; then
    for f in fid_vs_gflops_seeds.png fid_vs_train_gflops_seeds.png class_consistency_vs_train_gflops_seeds.png; do
        [ -s "$S/$f" ] || fail "missing plot $S/$f"
    done
fi
# The series name reaches gnuplot only as a single-quoted literal.
grep -q "yerrorlines title 'tiny'" "$S/plots.gp" || fail "plots.gp: series title not quoted"
grep -q "^set output 'fid_vs_train_gflops_seeds.png'.suffix" "$S/plots.gp" || fail "plots.gp: seed plots not written through the launcher's outputs"

# msf run writes nothing beside the experiment's folder (its lock is inside),
# and --force removes the seed files as its own.
[ "$(ls -A "$R")" = seeds ] || fail "msf run wrote beside its folder: $(ls -A "$R" | tr '\n' ' ')"
[ -f "$S/.lock" ] || fail "no lock file inside $S"
expect 0 "5 points" "$MSF" run "$tmp/cfg/seeds.yaml" --results-dir "$R" --force
grep -q "kept" "$tmp/log" && fail "--force kept seed files: $(grep kept "$tmp/log")"

# Without a seed sweep: no seed files, no section.
sed 's/seed: \[0, 1, 2\]/seed: [0]/; s/seed: \[3, 4\]/seed: [3]/' "$tmp/cfg/seeds.yaml" >"$tmp/cfg/one.yaml"
expect 0 "2 points" "$MSF" run "$tmp/cfg/one.yaml" --results-dir "$tmp/w/one"
[ ! -e "$tmp/w/one/seeds/metrics_seeds.csv" ] && [ ! -e "$tmp/w/one/seeds/seeds.dat" ] ||
    fail "single-seed run wrote seed aggregates"
grep -q "Over seeds" "$tmp/w/one/seeds/table.md" && fail "single-seed table.md has an 'Over seeds' section"

finish cli_run_seeds.sh
