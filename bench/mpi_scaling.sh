#!/bin/sh
# mpi_scaling.sh (make bench-mpi): one `msf run` experiment, the demo's
# Fashion-MNIST DiT and MSF models with classifier metrics against the 10,000
# test images, run three ways side by side on this machine:
#   1 rank x 1 thread, 2 ranks x 1 thread (mpirun), 1 rank x 2 threads
# each from scratch (--force), with the wall time and the speed-up over
# 1 x 1, and a check that all three give the same numbers. Sizes: SAMPLES
# (default 400) per point in shards of SHARD (100), STEPS (25) DiT and base
# steps. Needs a build with MPI and mpirun (make deps).
set -eu
MSF=${MSF:-bin/msf}
SAMPLES=${SAMPLES:-400}
SHARD=${SHARD:-100}
STEPS=${STEPS:-25}
if ! command -v mpirun >/dev/null 2>&1 || ! "$MSF" --version | grep -q "^MPI: yes"; then
    echo "mpi_scaling.sh: SKIP: no mpirun or $MSF built without MPI (make deps, then make)"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
X=$tmp/mpi_scaling.yaml
cat >"$X" <<EOF
experiment: mpi_scaling
defaults:
  seed: 0
  num_samples: $SAMPLES
  batch: 50
  shard_size: $SHARD
  sampler: {steps: "$STEPS", sampler: ddpm, cfg_scale: 1.5, cfg_mode: all, labels: balanced}
  evaluator: {use: $PWD/configs/evaluators/fmnist.yaml}
runs:
  - name: dit
    model: {use: $PWD/configs/models/fmnist_dit.yaml}
  - name: msf
    model: {use: $PWD/configs/models/fmnist_msf.yaml}
    sampler: {base_steps: "$STEPS", residual_steps: "5"}
EOF
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
echo "msf run under MPI: $SAMPLES samples x 2 points (DiT $STEPS steps; MSF $STEPS + 5), shards of $SHARD, metrics"
echo "CPU: ${cpu:-unknown}, $(nproc) cores; one run after another, from scratch"
now() { date +%s.%N; }
run() {  # NAME RANKS THREADS
    out=$tmp/$1
    t0=$(now)
    if [ "$2" = plain ]; then
        OMP_NUM_THREADS=$3 "$MSF" --quiet run "$X" --force --results-dir "$out" >"$tmp/$1.log" 2>&1
    else
        OMP_NUM_THREADS=$3 mpirun --oversubscribe --bind-to none -np "$2" "$MSF" --quiet run "$X" --force \
            --results-dir "$out" >"$tmp/$1.log" 2>&1
    fi || { echo "mpi_scaling.sh: run $1 failed:"; cat "$tmp/$1.log"; exit 1; }
    t1=$(now)
    sed 's/"[a-z_]*seconds_per_sample": [^,}]*//g' "$out/mpi_scaling/metrics.json" >"$tmp/$1.numbers"
    echo "$t0 $t1" | awk -v n="$1" '{printf "  %-28s %8.2f s\n", n, $2 - $1}' | tee -a "$tmp/times"
}
run "1 rank x 1 thread (mpirun)" 1 1
run "2 ranks x 1 thread (mpirun)" 2 1
run "1 process x 2 threads" plain 2
awk '{t[NR] = $(NF - 1)} END {printf "  speed-up over 1 x 1: 2 ranks x 1 thread %.2fx, 1 x 2 threads %.2fx\n", t[1] / t[2], t[1] / t[3]}' "$tmp/times"
cd "$tmp"
if cmp -s "1 rank x 1 thread (mpirun).numbers" "2 ranks x 1 thread (mpirun).numbers" &&
    cmp -s "1 rank x 1 thread (mpirun).numbers" "1 process x 2 threads.numbers"; then
    echo "  the three runs give the same metrics.json numbers"
else
    echo "mpi_scaling.sh: the runs' numbers differ"
    exit 1
fi
