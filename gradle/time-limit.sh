# shellcheck shell=bash
# time_limit <seconds>: how long a step may run: <seconds>, or what is left before the deadline of
# the whole CI run when that comes sooner (DIRECTMEM_DEADLINE, seconds since the epoch, exported
# by .ci/run), but at least 10 s (or <seconds> if less), so that each step still ends, counted failed, and the run gets
# to its summary line before CI's own limit. Sourced by the scripts that start steps.
time_limit() {
  local limit=$1 left
  if [[ ${DIRECTMEM_DEADLINE:-} =~ ^[0-9]+$ ]]; then
    left=$((DIRECTMEM_DEADLINE - $(date +%s)))
    ((left >= limit)) || limit=$((left > 10 ? left : (limit < 10 ? limit : 10)))
  fi
  echo "$limit"
}
