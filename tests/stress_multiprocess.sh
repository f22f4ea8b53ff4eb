#!/usr/bin/env bash
# Stress the multi-process tests under CPU contention (not part of the
# default test run): each test below is run ROUNDS times (default 20) in a
# fresh pytest process while two CPU-burning processes compete for the
# cores, and the pass count of every test is reported. Exit status 0 only if
# every test passed every round.
#
#   bash tests/stress_multiprocess.sh [ROUNDS [TEST_ID...]]
#   PYTHON=.venv/bin/python BURNERS=2 bash tests/stress_multiprocess.sh 20
#
# TEST_IDs (pytest node ids) replace the default list below.
#
# Logs of failed rounds are kept in $LOG_DIR (default: a new temp dir).
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
PYTHON=${PYTHON:-python}
BURNERS=${BURNERS:-2}
LOG_DIR=${LOG_DIR:-$(mktemp -d -t mmcnclip-stress.XXXXXX)}
mkdir -p "$LOG_DIR" || exit 2
DEFAULT_TESTS=(
    tests/test_models/test_contrastive.py::test_gather_with_grad_two_gloo_ranks
    tests/test_process_helpers.py::test_spawn_workers_results_and_errors
    tests/test_tools/test_tools.py::test_dist_test_sh_two_cpu_processes
    tests/test_tools/test_tools.py::test_dist_train_sh_two_cpu_processes
)
TESTS=("${@:2}")
[ ${#TESTS[@]} -gt 0 ] || TESTS=("${DEFAULT_TESTS[@]}")
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

burner_pids=()
pytest_pid=
stop_children() {
    for pid in "${burner_pids[@]}" $pytest_pid; do
        kill "$pid" 2>/dev/null
    done
}
trap stop_children EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$BURNERS"); do
    "$PYTHON" -c 'while True: pass' &
    burner_pids+=("$!")
done

declare -A passed
for t in "${TESTS[@]}"; do passed[$t]=0; done
start=$SECONDS
for round in $(seq "$ROUNDS"); do
    log="$LOG_DIR/round_$round.log"
    "$PYTHON" -m pytest -q -rA -p no:cacheprovider "${TESTS[@]}" >"$log" 2>&1 &
    pytest_pid=$!
    wait "$pytest_pid"
    pytest_pid=
    for t in "${TESTS[@]}"; do
        if grep -qF "PASSED $t" "$log"; then
            passed[$t]=$((passed[$t] + 1))
        else
            echo "round $round: FAILED $t (log: $log)"
        fi
    done
    echo "round $round/$ROUNDS done after $((SECONDS - start)) s: $(tail -n 1 "$log")"
done

echo "== pass counts ($ROUNDS rounds, $BURNERS CPU burners, $(nproc) cores, $((SECONDS - start)) s) =="
status=0
for t in "${TESTS[@]}"; do
    echo "${passed[$t]}/$ROUNDS $t"
    [ "${passed[$t]}" -eq "$ROUNDS" ] || status=1
done
exit $status
