#!/bin/sh
# cli_run_safety.sh: `msf run` against hostile or damaged input: experiment
# names that would leave RESULTS_DIR/NAME/ ("", ../x, a/b), --force on its own
# folder only (never beside it, never a folder it did not make), YAML alias
# bombs and deep nesting rejected at once, counts capped alike in --dry-run and
# a run, config errors found before sampling, and a resume that checks what it
# reuses (truncated latents.h5 / images.npz of a finished point, a corrupt
# shard): reported, made again, the same metrics.
# Run from the repository root by `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
. tests/testlib.sh

mkdir "$tmp/cfg"
yaml() { cat >"$tmp/cfg/$1"; }
G=$PWD/tests/golden

# A small experiment of every stage: a pixel DiT, metrics, spectra of the latents.
yaml small.yaml <<EOF
experiment: small
defaults:
  seed: 3
  num_samples: 12
  batch: 4
  shard_size: 4
  grid: 4
  sampler: {steps: "10", cfg_scale: 1.0}
  evaluator: {featnet: $G/classifier_tiny.h5, reference: $G/run_reference.npz, batch: 8}
  spectrum: {}
runs:
  - name: dit
    model: {kind: dit, weights: $G/run_pixel_dit.h5}
EOF

# --- 1. the experiment name: a folder name, checked at load with file:line --------
for name in '""' '../x' 'a/b' '.' '..' '.hidden' "'a b'"; do
    sed "s|^experiment: small|experiment: $name|" "$tmp/cfg/small.yaml" >"$tmp/cfg/name.yaml"
    expect_err 1 "name.yaml:1: 'experiment' must be a folder name" "$MSF" run "$tmp/cfg/name.yaml" --results-dir "$tmp/e"
    expect_err 1 "name.yaml:1: 'experiment' must be a folder name" "$MSF" run "$tmp/cfg/name.yaml" --force --results-dir "$tmp/e"
    expect 1 "name.yaml:1: 'experiment' must be a folder name" "$MSF" run "$tmp/cfg/name.yaml" --dry-run
done
sed 's|^  - name: dit|  - name: "../dit"|' "$tmp/cfg/small.yaml" >"$tmp/cfg/run.yaml"
expect_err 1 "run.yaml:12: runs\[0\].name must be a folder name" "$MSF" run "$tmp/cfg/run.yaml" --results-dir "$tmp/e"

# --- 2. the runner writes only in RESULTS_DIR/NAME/; --force removes only its own --
R=$tmp/w/r
mkdir -p "$R/other"
echo keep >"$R/sentinel.txt"
echo keep >"$R/other/metrics.csv"
expect 0 "wrote $R/small: manifest.json" "$MSF" run "$tmp/cfg/small.yaml" --results-dir "$R"
cp "$R/small/metrics.csv" "$tmp/metrics.good"
cp "$R/small/points/dit/images.npz" "$tmp/images.good"
cp "$R/small/points/dit/spectrum/spectrum.csv" "$tmp/spectrum.good" || fail "no spectrum.csv"
echo "a finding" >"$R/small/FINDINGS.md"
expect 0 "wrote $R/small: manifest.json" "$MSF" run "$tmp/cfg/small.yaml" --results-dir "$R" --force
grep -q "kept 1 file in $R/small that msf run did not write: FINDINGS.md" "$tmp/log" || fail "--force did not say what it kept"
grep -q "reused" "$tmp/log" && fail "--force reused earlier results"
[ "$(cat "$R/sentinel.txt" 2>/dev/null)" = keep ] || fail "a file beside the experiment's folder did not survive --force"
[ "$(cat "$R/other/metrics.csv" 2>/dev/null)" = keep ] || fail "another experiment's folder did not survive --force"
[ "$(cat "$R/small/FINDINGS.md" 2>/dev/null)" = "a finding" ] || fail "--force removed a file msf run did not write"
ls "$R" | sort | tr '\n' ' ' | grep -qx "other sentinel.txt small " || fail "msf run wrote beside its folder: $(ls -A "$R")"
cmp -s "$tmp/images.good" "$R/small/points/dit/images.npz" || fail "--force gave other images"
# A folder of the experiment's name that msf run did not make: left alone,
# with and without --force.
mkdir "$R/mine"
echo precious >"$R/mine/data.txt"
sed 's|^experiment: small|experiment: mine|' "$tmp/cfg/small.yaml" >"$tmp/cfg/mine.yaml"
for force in "" --force; do
    expect 1 "$R/mine holds files but no manifest.json: msf run did not make it" \
        "$MSF" run "$tmp/cfg/mine.yaml" --results-dir "$R" $force
    [ "$(ls -A "$R/mine")" = data.txt ] && [ "$(cat "$R/mine/data.txt")" = precious ] ||
        fail "msf run $force touched a folder it did not make: $(ls -A "$R/mine")"
done
# What a first run killed before its manifest leaves (an empty points/, a
# temporary manifest) is msf run's own.
mkdir -p "$R/early/points" && : >"$R/early/manifest.json.tmp-99"
sed 's|^experiment: small|experiment: early|; s/num_samples: 12/num_samples: 4/' "$tmp/cfg/small.yaml" >"$tmp/cfg/early.yaml"
expect 0 "wrote $R/early" "$MSF" run "$tmp/cfg/early.yaml" --results-dir "$R"
[ -e "$R/early/manifest.json.tmp-99" ] && fail "the killed run's temporary manifest was left"

# --- 3. YAML limits: alias bombs and deep nesting fail at once -------------------
{
    echo 'experiment: bomb'
    echo 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
    prev=a
    for n in b c d e f g h i j; do
        printf '%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' $n $n $prev $prev $prev $prev $prev $prev $prev $prev $prev $prev
        prev=$n
    done
    echo 'runs: [*j]'
} >"$tmp/cfg/bomb.yaml"
awk 'BEGIN { printf "experiment: x\nruns: "; for (i = 0; i < 100000; i++) printf "["; for (i = 0; i < 100000; i++) printf "]"; print "" }' \
    >"$tmp/cfg/deep.yaml"
awk 'BEGIN { print "experiment: x"; s = ""; for (i = 0; i < 2000; i++) { print s "a:"; s = s " " } }' >"$tmp/cfg/deep_block.yaml"
# seconds X CMD...: run CMD (expect's rules) and fail if it took X seconds or more.
seconds() {
    limit=$1
    shift
    t0=$(date +%s.%N)
    expect "$@"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v l="$limit" 'BEGIN { exit !(b - a < l) }' ||
        fail "took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s (limit $limit s): $*"
}
seconds 1 1 "bomb.yaml:[0-9]*: the config holds more than 100000 values once aliases are expanded" \
    "$MSF" run "$tmp/cfg/bomb.yaml" --dry-run
seconds 1 1 "deep.yaml:2: nesting deeper than 64 levels" "$MSF" run "$tmp/cfg/deep.yaml" --dry-run
seconds 1 1 "deep_block.yaml:66: nesting deeper than 64 levels" "$MSF" run "$tmp/cfg/deep_block.yaml" --results-dir "$tmp/e"
{
    echo 'experiment: many'
    echo 'a: &a [1]'
    i=0
    while [ $i -lt 1001 ]; do echo "k$i: *a"; i=$((i + 1)); done
    echo 'runs: []'
} >"$tmp/cfg/aliases.yaml"
seconds 1 1 "aliases.yaml:1003: more than 1000 aliases" "$MSF" run "$tmp/cfg/aliases.yaml" --dry-run
printf 'experiment: x\na: &a [1, *a]\nruns: []\n' >"$tmp/cfg/cycle.yaml"
expect 1 "cycle.yaml:2: alias \*a refers to a value that contains it" "$MSF" run "$tmp/cfg/cycle.yaml" --dry-run

# --- 4. counts: capped as the CLI caps them, the same message in both modes ------
msg="big.yaml:4: 'runs\[0\].num_samples' must be an integer in \[1, 100000000\] (as msf sample --num), got 1000000000000"
sed 's/num_samples: 12/num_samples: 1000000000000/' "$tmp/cfg/small.yaml" >"$tmp/cfg/big.yaml"
expect 1 "$msg" "$MSF" run "$tmp/cfg/big.yaml" --dry-run
expect_err 1 "$msg" "$MSF" run "$tmp/cfg/big.yaml" --results-dir "$tmp/e"
# The same caps for swept values, with the swept value's line.
printf '    sweep: {num_samples: [12, 200000000]}\n' | cat "$tmp/cfg/small.yaml" - >"$tmp/cfg/bigsweep.yaml"
expect 1 "bigsweep.yaml:14: 'runs\[0\].num_samples' must be an integer in \[1, 100000000\]" \
    "$MSF" run "$tmp/cfg/bigsweep.yaml" --dry-run
sed 's/batch: 4/batch: 100000/' "$tmp/cfg/small.yaml" >"$tmp/cfg/batch.yaml"
expect 1 "batch.yaml:5: 'runs\[0\].batch' must be an integer in \[1, 4096\] (as msf sample --batch)" \
    "$MSF" run "$tmp/cfg/batch.yaml" --dry-run
sed 's/seed: 3/seed: -1/' "$tmp/cfg/small.yaml" >"$tmp/cfg/seed.yaml"
expect 1 "seed.yaml:3: 'runs\[0\].seed' must be an integer in \[0," "$MSF" run "$tmp/cfg/seed.yaml" --dry-run
sed 's/grid: 4/grid: 100000/' "$tmp/cfg/small.yaml" >"$tmp/cfg/grid.yaml"
expect 1 "grid.yaml:7: 'runs\[0\].grid' must be an integer in \[0, 256\]" "$MSF" run "$tmp/cfg/grid.yaml" --dry-run

# --- 5. --dry-run finds what a run would stop on, before sampling ----------------
sed 's/steps: "10"/steps: "ddim2000"/' "$tmp/cfg/small.yaml" >"$tmp/cfg/steps.yaml"
expect 1 "steps.yaml:8: 'runs\[0\].sampler.steps' is 'ddim2000'" "$MSF" run "$tmp/cfg/steps.yaml" --dry-run
expect_err 1 "steps.yaml:8: 'runs\[0\].sampler.steps' is 'ddim2000'" "$MSF" run "$tmp/cfg/steps.yaml" --results-dir "$tmp/e"
sed 's/spectrum: {}/spectrum: {factorize: "s=2,down=sideways"}/' "$tmp/cfg/small.yaml" >"$tmp/cfg/fact.yaml"
expect 1 "fact.yaml:10: 'runs\[0\].spectrum.factorize' is 's=2,down=sideways'" "$MSF" run "$tmp/cfg/fact.yaml" --dry-run
# A factorisation that parses but does not fit the 32x32 latents.
sed 's/spectrum: {}/spectrum: {factorize: "s=3"}/' "$tmp/cfg/small.yaml" >"$tmp/cfg/fit.yaml"
expect 1 "dit: spectrum.factorize" "$MSF" run "$tmp/cfg/fit.yaml" --dry-run
expect_err 1 "dit: spectrum.factorize" "$MSF" run "$tmp/cfg/fit.yaml" --results-dir "$tmp/e"
# An unreadable or empty reference batch is found before sampling.
: >"$tmp/empty.npz"
sed "s|$G/run_reference.npz|$tmp/empty.npz|" "$tmp/cfg/small.yaml" >"$tmp/cfg/ref.yaml"
expect 1 "evaluator.reference $tmp/empty.npz cannot be read: the file is empty" "$MSF" run "$tmp/cfg/ref.yaml" --dry-run
expect_err 1 "evaluator.reference $tmp/empty.npz cannot be read" "$MSF" run "$tmp/cfg/ref.yaml" --results-dir "$tmp/e"
# Guidance with a model that has no null class (run_pixel_dit.h5 has one; a
# fixed-variance model must refuse a learned-range variance instead).
sed 's/cfg_scale: 1.0}/cfg_scale: 1.0, variance: fixed_small}/' "$tmp/cfg/small.yaml" >"$tmp/cfg/var.yaml"
if "$MSF" run "$tmp/cfg/var.yaml" --dry-run >"$tmp/log" 2>&1; then
    sed 's/cfg_scale: 1.0}/cfg_scale: 1.0, variance: learned_range}/' "$tmp/cfg/small.yaml" >"$tmp/cfg/var.yaml"
fi
expect 1 "dit: sampler.variance .* needs a model" "$MSF" run "$tmp/cfg/var.yaml" --dry-run
expect 0 "total: 12 samples" "$MSF" run "$tmp/cfg/small.yaml" --dry-run

# --- 6. resume checks what it reuses ---------------------------------------------
P=$R/small/points/dit
# metrics_of DIR: metrics.csv without the timing column (field 16 once the
# quoted fields are dropped) and the config hash.
metrics_of() { sed 's/"[^"]*"//g' "$1/metrics.csv" | cut -d, -f1-15,17; }
metrics_of "$R/small" >"$tmp/m.good"
check_same() {
    metrics_of "$R/small" >"$tmp/m.now"
    cmp -s "$tmp/m.good" "$tmp/m.now" || fail "$1: metrics differ: $(diff "$tmp/m.good" "$tmp/m.now")"
    cmp -s "$tmp/images.good" "$P/images.npz" || fail "$1: images differ"
}
# A finished point whose latents.h5 was truncated.
head -c 3000 "$P/latents.h5" >"$tmp/cut" && cp "$tmp/cut" "$P/latents.h5"
expect 0 "wrote" "$MSF" run "$tmp/cfg/small.yaml" --results-dir "$R"
grep -q "$P/latents.h5 is damaged" "$tmp/log" || fail "a truncated latents.h5 was not reported"
grep -q "done before, reused" "$tmp/log" && fail "a point with a truncated latents.h5 was reused"
"$MSF" info "$P/latents.h5" >/dev/null 2>&1 || fail "latents.h5 was not made again"
cmp -s "$tmp/spectrum.good" "$P/spectrum/spectrum.csv" || fail "the spectra of the remade latents.h5 differ"
check_same "latents.h5"
# A finished point whose images.npz was truncated.
head -c 5000 "$P/images.npz" >"$tmp/cut" && cp "$tmp/cut" "$P/images.npz"
expect 0 "wrote" "$MSF" run "$tmp/cfg/small.yaml" --results-dir "$R"
grep -q "$P/images.npz is damaged" "$tmp/log" || fail "a truncated images.npz was not reported"
grep -q "done before, reused" "$tmp/log" && fail "a point with a truncated images.npz was reused"
check_same "images.npz"
# A finished point is still reused when nothing is damaged.
expect 0 "done before, reused" "$MSF" run "$tmp/cfg/small.yaml" --results-dir "$R"
grep -q "damaged" "$tmp/log" && fail "an undamaged point was reported damaged"
# Results shared without their bulky merged files keep their numbers.
mv "$P/images.npz" "$tmp/images.moved" && mv "$P/latents.h5" "$tmp/latents.moved"
expect 0 "done before, reused" "$MSF" run "$tmp/cfg/small.yaml" --results-dir "$R"
grep -q "damaged" "$tmp/log" && fail "an absent merged file was reported damaged"
metrics_of "$R/small" | cmp -s "$tmp/m.good" - || fail "absent merged files: metrics differ"
[ -e "$P/images.npz" ] && fail "a reused point made images.npz again"
mv "$tmp/images.moved" "$P/images.npz" && mv "$tmp/latents.moved" "$P/latents.h5"
# An unfinished point (no point.json, no merged files) with a corrupt shard
# (bytes flipped in the middle of its latents) and a truncated one: each
# reported and sampled again, only those; the same images and numbers.
rm "$P/point.json" "$P/images.npz" "$P/latents.h5"
S0=$P/shards/shard_00000.h5 S1=$P/shards/shard_00001.h5 S2=$P/shards/shard_00002.h5
size=$(wc -c <"$S1")
cp "$S0" "$tmp/s0" && cp "$S1" "$tmp/s1" && cp "$S2" "$tmp/s2"
# The latents are the bulk of the file: flip bytes in its last quarter.
awk -v n="$(wc -c <"$S0")" 'BEGIN { printf "%d", n * 3 / 4 }' >"$tmp/off"
printf 'ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ' | dd of="$S0" bs=1 seek="$(cat "$tmp/off")" conv=notrunc 2>/dev/null
cmp -s "$S0" "$tmp/s0" && fail "the corruption did not change $S0"
head -c $((size / 2)) "$tmp/s1" >"$S1"
expect 0 "wrote" "$MSF" run "$tmp/cfg/small.yaml" --results-dir "$R"
grep -q "$S0 is damaged" "$tmp/log" || fail "a corrupt shard was not reported: $(cat "$tmp/log")"
grep -q "$S1 is damaged" "$tmp/log" || fail "a truncated shard was not reported"
[ "$(grep -c "is damaged" "$tmp/log")" -eq 2 ] || fail "expected exactly the two damaged shards reported"
cmp -s "$S2" "$tmp/s2" || fail "an undamaged shard was sampled again"
check_same "corrupt shards"
cmp -s "$tmp/spectrum.good" "$P/spectrum/spectrum.csv" || fail "the spectra after resampling damaged shards differ"
left=$(find "$R" -name '*.tmp-*')
[ -z "$left" ] || fail "temporary files left: $left"

finish cli_run_safety.sh
