# shellcheck shell=bash
# gradle_usable [gradlew]: whether ./gradlew can run Gradle on this machine, found out before any
# build by `./gradlew --version`, which downloads, verifies and unpacks the distribution on first
# use. When it cannot, prints why (gradlew's last lines: the download failed, the SHA-256 did not
# match, ...) and fails. .ci/run falls back to gradle/without-gradle.sh then and only then: once
# Gradle runs, a failing build is the build's failure, never a reason to run something else.
# Sourced by .ci/run and gradle/gradlew-test.sh; needs gradle/time-limit.sh.
gradle_usable() {
  local gradlew=${1:-./gradlew} out code=0
  # The distribution is 140 MB; gradlew's curl gives up on a stalled download by itself.
  out=$(timeout --kill-after=30s "$(time_limit 900)" "$gradlew" --version 2>&1) || code=$?
  [[ $code -ne 0 ]] || return 0
  tail -n 4 <<<"$out"
  [[ $code -ne 124 && $code -ne 137 ]] || echo "$gradlew --version did not end within its time limit"
  return 1
}
