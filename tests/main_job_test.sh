#!/usr/bin/env bash
# ctest: scripts/main-job.sh (make run) against a stub esm-build, on what a user sees when the
# job is stopped: a Ctrl-C (SIGINT to the whole process group) lets esm-build's own
# "stopped ... rerun to resume" line through (a tee killed by the same signal made it die of
# SIGPIPE), and both a Ctrl-C and a kill of esm-build end with the main job's line naming the
# folder and `make run` to resume; a second start says it resumes.
set -euo pipefail
src=$1
set -m  # each background job in its own process group, SIGINT not ignored in it (as in a terminal)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
# The stub: on SIGINT it waits a moment (as esm-build's handler stops its runner first), then
# says so on stderr and dies of the signal, as esm-build does.
cat > "$tmp/bin/esm-build" <<'STUB'
#!/usr/bin/env bash
out=${@: -1}
mkdir -p "$out"; echo "iteration,set,arch" > "$out/plans.csv"
trap 'sleep 0.3; echo "stub esm-build: stopped, rerun to resume" >&2; trap - INT; kill -INT $$' INT
echo $$ > "$out/ready.tmp"; mv "$out/ready.tmp" "$out/ready"
while :; do sleep 0.05; done
STUB
chmod +x "$tmp/bin/esm-build"
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$tmp/log"; exit 1; }

start() {  # runs the job in its own process group; waits for the stub
  rm -f "$tmp/out/ready"
  ESM_OUT="$tmp/out" "$src/scripts/main-job.sh" "$tmp/bin" > "$tmp/log" 2>&1 &
  job=$!
  for _ in $(seq 100); do [ -e "$tmp/out/ready" ] && return; sleep 0.05; done
  fail "the stub esm-build did not start"
}

# 1. Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
start
grep -q "main job: building a latency predictor" "$tmp/log" || fail "no start line"
kill -INT -- "-$job"
rc=0; wait "$job" || rc=$?
grep -q "stub esm-build: stopped, rerun to resume" "$tmp/log" || fail "esm-build's own stop line was lost (rc $rc)"
grep -q "esm-build was stopped (signal 2); what it measured is kept in $tmp/out: run 'make run' again" "$tmp/log" ||
  fail "no main-job line after a Ctrl-C (rc $rc)"
[ "$rc" -eq 130 ] || fail "exit status $rc after a Ctrl-C, expected 130"

# 2. esm-build killed (SIGKILL): the job says so and how to resume; the start says it resumes.
start
grep -q "main job: resuming the run in $tmp/out" "$tmp/log" || fail "a second start does not say it resumes"
kill -KILL "$(cat "$tmp/out/ready")"
rc=0; wait "$job" || rc=$?
grep -q "esm-build was stopped (signal 9); what it measured is kept in $tmp/out: run 'make run' again" "$tmp/log" ||
  fail "no main-job line after esm-build was killed (rc $rc)"
[ "$rc" -eq 137 ] || fail "exit status $rc after esm-build was killed, expected 137"
# 3. A Ctrl-C during the 30 s wait after a failed quality-control attempt stops the job (the
# shell's INT trap must not just cut the wait short and start the next attempt).
mkdir "$tmp/qc"
printf '#!/usr/bin/env bash\necho "esm-build: quality control failed after 5 attempts" >&2\nexit 1\n' > "$tmp/qc/esm-build"
chmod +x "$tmp/qc/esm-build"
ESM_OUT="$tmp/out" "$src/scripts/main-job.sh" "$tmp/qc" > "$tmp/log" 2>&1 &
job=$!
for _ in $(seq 100); do grep -q "resuming in 30 s" "$tmp/log" && break; sleep 0.05; done
kill -INT -- "-$job"
rc=0; wait "$job" || rc=$?
grep -q "main job: stopped; what it measured is kept in $tmp/out: run 'make run' again" "$tmp/log" ||
  fail "no stop line after a Ctrl-C during the wait (rc $rc)"
grep -q "attempt 3 of 3" "$tmp/log" && fail "a Ctrl-C during the wait started the next attempt"
[ "$rc" -eq 130 ] || fail "exit status $rc after a Ctrl-C during the wait, expected 130"
echo "main job: stop messages ok"
