# testlib.sh: helpers shared by the CLI test scripts (tests/cli_*.sh), sourced
# from the repository root. Sets up $tmp (removed on exit) with $tmp/w for
# results of commands that succeed and $tmp/e for the --out of commands that
# must fail, which must stay empty (no output, no temporary file).

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
mkdir "$tmp/w" "$tmp/e"
fails=0
# The tiny models make thousands of small OpenMP regions; with spinning waits a
# machine busy with other work slows them ~100x. Passive waits change no result.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMP_WAIT_POLICY

fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# expect STATUS PATTERN CMD...: run CMD, check its exit status (STATUS may
# list several: "1|2") and that its stdout+stderr contains PATTERN (a grep
# regex; "" = anything, even nothing). The output stays in $tmp/log.
expect() {
    want=$1 pattern=$2
    shift 2
    "$@" >"$tmp/log" 2>&1
    got=$?
    case "|$want|" in
    *"|$got|"*) status_ok=1 ;;
    *) status_ok=0 ;;
    esac
    if [ "$status_ok" -eq 0 ] || { [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/log"; }; then
        fail "$* -> exit $got (want $want), output lacks '$pattern':"
        sed 's/^/    /' "$tmp/log"
    fi
}

# expect_err STATUS PATTERN CMD...: expect, then require $tmp/e to be empty.
expect_err() {
    expect "$@"
    shift 2
    left=$(ls -A "$tmp/e")
    if [ -n "$left" ]; then
        fail "$* left files behind: $left"
        rm -rf "$tmp/e"/* "$tmp/e"/.[!.]* 2>/dev/null
    fi
}

# skip WHAT: a part that cannot run here says SKIP where it is seen; under CI
# (CI=true, where .ci/run installs every dependency) a skip is a failure.
skip() {
    if [ "${CI:-}" = true ]; then
        fail "SKIP in CI: $*"
    else
        echo "SKIP: $*"
    fi
}

# finish NAME: the script's verdict and exit status.
finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$1: $fails failure(s)"
        exit 1
    fi
    echo "$1: all passed"
    exit 0
}
