#!/bin/sh
# cli_conventions.sh: one error and exit convention for every command
# (issue 21): `--help` has an "Exit status" section; an unknown option exits
# 2 with "msf CMD: unknown option" or "unexpected argument"; a missing input
# file exits 1 with one line "msf CMD: ..." naming the file, with no doubled
# "msf CMD:" prefix and nothing written. Run from the repository root by
# `make test` with MSF set to the binary.
set -u
MSF=${MSF:-bin/msf}
. tests/testlib.sh

M=$tmp/missing.h5
E=$tmp/e
for c in info forward sample flops spectrum decode encode features stats evaluate run report; do
    expect 0 "^Exit status: 0 on success, 1 .*" "$MSF" "$c" --help
    expect_err 2 "^msf $c: \(unknown option '--no-such-flag'\|unexpected argument '--no-such-flag'\)" \
        "$MSF" "$c" --no-such-flag
done
# Each command with a missing file in the place of its main input.
while IFS='|' read -r c args; do
    # shellcheck disable=SC2086
    expect_err 1 "^msf $c: .*$tmp/missing" "$MSF" $c $args
    [ "$(grep -c "msf $c: " "$tmp/log")" -eq 1 ] || fail "msf $c: the prefix appears more than once: $(cat "$tmp/log")"
    [ "$(grep -c "msf $c: msf $c:" "$tmp/log")" -eq 0 ] || fail "msf $c: doubled prefix"
done <<EOF2
info|$M
forward|--weights $M --in $M --out $E/o.h5
sample|--weights $M --out $E/o.h5
flops|--weights $M
spectrum|$M --out $E/sp
decode|$M --vae $M --out $E/o.npz
encode|$tmp/missing.npz --vae $M --out $E/o.h5
features|$tmp/missing.npz --net tests/golden/classifier_tiny.h5 --out $E/o.h5
stats|$M --out $E/o.npz
evaluate|$M $M
run|$tmp/missing.yaml --results-dir $E
report|--results-dir $tmp/missing --reported paper/reported.csv --out $E/r.md
EOF2

# Outputs checked before the work: a folder that does not exist, a missing VAE.
P="--weights tests/golden/run_pixel_dit.h5 --steps 3 --num 2"
expect_err 1 "^msf sample: cannot create output file $tmp/nodir/o.h5: its folder $tmp/nodir does not exist" \
    "$MSF" sample $P --out "$tmp/nodir/o.h5"
grep -q "sample steps" "$tmp/log" && fail "msf sample sampled before finding its output folder missing"
expect_err 1 "^msf sample: cannot open VAE weight file $tmp/missing_vae.h5" \
    "$MSF" sample $P --vae "$tmp/missing_vae.h5" --out "$E/o.h5"
expect_err 1 "^msf features: cannot create features file $tmp/nodir/f.h5" \
    "$MSF" features tests/golden/run_reference.npz --net tests/golden/classifier_tiny.h5 --out "$tmp/nodir/f.h5"
expect_err 1 "^msf decode: cannot create images file $tmp/nodir/o.npz" \
    "$MSF" decode tests/golden/vae_tiny.h5 --dataset dec/z --vae tests/golden/vae_tiny.h5 --group vae --out "$tmp/nodir/o.npz"
expect_err 1 "^msf forward: cannot create output file $E: it is a folder" \
    "$MSF" forward --weights tests/golden/dit_tiny.h5 --group sigma --in tests/golden/dit_cli_fixture.h5 --out "$E"

# msf evaluate, stats and spectrum check every file named before computing
# features or spectra: a missing SAMPLE is found before REF's features, a
# --json or --out folder that does not exist before any metric is computed
# (the metrics were printed, then the write failed), a --out that is a file
# before the spectra (they were computed, then spectrum.csv failed).
N="--net tests/golden/classifier_tiny.h5"
R=tests/golden/run_reference.npz
expect_err 1 "^msf evaluate: cannot open sample input $tmp/missing.npz: No such file" \
    "$MSF" evaluate $R "$tmp/missing.npz" $N --json "$E/m.json"
expect_err 1 "^msf evaluate: cannot create metrics file $tmp/nodir/m.json: its folder $tmp/nodir does not exist" \
    "$MSF" evaluate $R $R $N --json "$tmp/nodir/m.json"
grep -q "^FID" "$tmp/log" && fail "msf evaluate computed the metrics before finding the --json folder missing"
expect_err 1 "^msf stats: cannot create statistics file $tmp/nodir/s.npz: its folder $tmp/nodir does not exist" \
    "$MSF" stats $R $N --out "$tmp/nodir/s.npz"
expect_err 1 "^msf stats: cannot open input $tmp/missing.npz" "$MSF" stats "$tmp/missing.npz" $N --out "$E/s.npz"
: >"$tmp/afile"
expect 1 "^msf spectrum: cannot write into output folder $tmp/afile: it is not a folder" \
    "$MSF" spectrum tests/golden/spectrum_npz_stored.npz --levels 1 --no-plots --out "$tmp/afile"
expect_err 1 "^msf spectrum: cannot create output folder $tmp/nodir/sp: its folder $tmp/nodir does not exist" \
    "$MSF" spectrum tests/golden/spectrum_npz_stored.npz --levels 1 --no-plots --out "$tmp/nodir/sp"
expect_err 1 "^msf spectrum: cannot open reference $tmp/missing.npz" \
    "$MSF" spectrum tests/golden/spectrum_npz_stored.npz --reference "$tmp/missing.npz" --out "$E/sp"

# Options of the feature network do nothing without images: usage errors
# (exit 2) before any work, as is an image input without --net, and --kid
# without features on both sides.
mkdir -p "$tmp/fs"
"$MSF" features $R $N --out "$tmp/fs/f.h5" >/dev/null 2>&1 || fail "msf features $R failed"
"$MSF" stats "$tmp/fs/f.h5" --out "$tmp/fs/s.npz" >/dev/null 2>&1 || fail "msf stats of a features file failed"
expect_err 2 "^msf evaluate: $R holds images: a feature network (--net W.h5) is needed for them" \
    "$MSF" evaluate $R "$tmp/fs/f.h5"
expect_err 2 "^msf evaluate: --resize has no effect: no input holds images ($tmp/fs/f.h5: a features file; $tmp/fs/s.npz: statistics only)" \
    "$MSF" evaluate "$tmp/fs/f.h5" "$tmp/fs/s.npz" --resize pytorch
expect_err 2 "^msf evaluate: --kid needs features on both sides; $tmp/fs/s.npz holds statistics only" \
    "$MSF" evaluate "$tmp/fs/f.h5" "$tmp/fs/s.npz" --kid
expect_err 2 "^msf stats: --batch has no effect: no input holds images ($tmp/fs/f.h5: a features file)" \
    "$MSF" stats "$tmp/fs/f.h5" --batch 10 --out "$E/s2.npz"
[ -e "$E/s2.npz" ] && fail "msf stats wrote $E/s2.npz after a usage error"
expect_err 2 "^msf features: $tmp/fs/f.h5 holds features already, not images" \
    "$MSF" features "$tmp/fs/f.h5" $N --out "$E/g.h5"

# One vocabulary (issue 19): every option of msf sample is an msf run key of
# the same name ('_' for '-'; msf run --keys) but for the stated few, and every
# key msf run --keys pairs with an option is one msf sample knows.
expect 0 "^sampler.steps  *string  *250  *--steps " "$MSF" run --keys
cp "$tmp/log" "$tmp/keys"
"$MSF" sample --help >"$tmp/help" 2>&1
grep -E '^(  --|usage:)' "$tmp/help" | grep -oE -- '--[a-z0-9-]*[a-z0-9]' | sort -u >"$tmp/flags"
[ "$(wc -l <"$tmp/flags")" -ge 30 ] || fail "msf sample --help lists only $(wc -l <"$tmp/flags") options"
while read -r flag; do
    case $flag in
    --out | --images | --noise-file | --first-index | --labels | --num) continue ;;
    esac
    awk -v f="$flag" '$4 == f { found = 1 } END { exit !found }' "$tmp/keys" ||
        fail "msf sample $flag has no msf run key of the same name (msf run --keys)"
done <"$tmp/flags"
awk 'NR > 1 && $4 ~ /^--/ { print $4 }' "$tmp/keys" | while read -r flag; do
    grep -qx -- "$flag" "$tmp/flags" || echo "$flag" >>"$tmp/nokey"
done
[ -s "$tmp/nokey" ] && fail "msf run --keys names options msf sample does not list: $(cat "$tmp/nokey")"
expect 2 "unexpected argument '--keys'" "$MSF" run experiments/fmnist_demo.yaml --keys

finish cli_conventions.sh
