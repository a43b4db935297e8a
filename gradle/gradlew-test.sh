#!/usr/bin/env bash
# Tests ./gradlew against a small fake distribution served from a file:// URL: the first run
# downloads, checks and unpacks it; later runs start it without downloading; a checksum mismatch,
# an unreachable URL and a distribution other than a -bin.zip are refused with their exit
# statuses; .ci/run goes without Gradle when it cannot run, and with it when it can; an unpack that
# was interrupted is redone; a download that was, leaves nothing (no file, no held lock). Writes JUnit XML to build/test-results/gradlew, which .ci/run counts with the rest.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
source gradle/junit-xml.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=0.0.1-test
zip="$work/gradle-$version-bin.zip"

# A distribution whose bin/gradle prints its arguments, beside a lib/ of some size.
mkdir -p "$work/src/gradle-$version/bin" "$work/src/gradle-$version/lib"
printf '#!/bin/sh\necho "fake gradle $*"\n' >"$work/src/gradle-$version/bin/gradle"
chmod +x "$work/src/gradle-$version/bin/gradle"
head -c 200000 /dev/urandom >"$work/src/gradle-$version/lib/core.jar"
(cd "$work/src" && python3 -m zipfile -c "$zip" "gradle-$version")
sha256=$(sha256sum "$zip" | cut -d' ' -f1)

# A project with a space in its path, holding a copy of ./gradlew and its properties.
project="$work/a project"
mkdir -p "$project/gradle/wrapper"
cp "$repo/gradlew" "$project/"
properties() {
  printf 'distributionUrl=%s\ndistributionSha256Sum=%s\n' "$1" "$2" \
    >"$project/gradle/wrapper/gradle-wrapper.properties"
}
export GRADLE_USER_HOME="$work/home"
dist="$GRADLE_USER_HOME/wrapper/dists/gradle-$version-bin/$sha256"

# Starts a local HTTP server that sends a few bytes of the distribution, then nothing for 60 s
# (its pid in $server, its port in $port), and points the properties at it.
serve_stalled_download() {
  rm -f "$work/port" # the last server's, which the wait below would take for this one's
  python3 -c '
import socket, time
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
print(server.getsockname()[1], flush=True)
connection, _ = server.accept()
connection.recv(65536)
connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000000\r\n\r\nPK, and then nothing")
time.sleep(60)
' >"$work/port" &
  server=$!
  for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
  port=$(cat "$work/port")
  properties "http://127.0.0.1:$port/gradle-$version-bin.zip" "$sha256"
}
part="$dist/gradle-$version-bin.zip.part"
wait_for_partial_download() { for _ in $(seq 100); do [[ -e $part ]] && break; sleep 0.1; done; }

cases=()   # one "name|failure message or empty" per case
run() { "$project/gradlew" "$@" >"$work/out" 2>"$work/err"; echo $?; }
expect() { # name, condition (a bash expression), what went wrong
  if eval "$2"; then cases+=("$1|"); else cases+=("$1|$3: status $status, out: $(cat "$work/out"), err: $(cat "$work/err")"); fi
}

properties "file://$zip" "$sha256"
status=$(run build --info)
expect first_run_downloads_verifies_and_runs \
  '[[ $status == 0 && $(cat "$work/out") == "fake gradle build --info" ]] && grep -q downloading "$work/err"' \
  "the first run did not download and run the distribution"

status=$(run check)
expect second_run_starts_without_downloading \
  '[[ $status == 0 && $(cat "$work/out") == "fake gradle check" && ! -s $work/err ]]' \
  "the second run did not start the unpacked distribution at once"

rm -rf "$GRADLE_USER_HOME"
properties "file://$zip" "$(printf '0%.0s' {1..64})"
status=$(run build)
expect checksum_mismatch_is_refused_and_nothing_unpacked \
  '[[ $status == 1 ]] && grep -q "SHA-256 mismatch" "$work/err" && [[ -z $(find "$GRADLE_USER_HOME" -name gradle -type f) ]]' \
  "a distribution with the wrong checksum was not refused"

properties "file://$work/missing/gradle-$version-bin.zip" "$sha256"
status=$(run build)
expect unreachable_distribution_exits_3 \
  '[[ $status == 3 ]] && grep -q "could not download" "$work/err"' \
  "an unreachable distribution did not exit with status 3"

properties "file://$work/gradle-$version-all.zip" "$sha256"
status=$(run build)
expect a_distribution_other_than_bin_is_refused \
  '[[ $status == 2 ]] && grep -q "gradle-X-bin.zip" "$work/err"' \
  "a gradle-X-all.zip URL was not refused"

# .ci/run's choice (gradle/use-gradle.sh): the tasks run without Gradle whenever ./gradlew --version
# fails, with gradlew's reason, whatever its exit status (a checksum mismatch is 1, where an
# unreachable distribution is 3); with Gradle once the distribution runs.
source gradle/time-limit.sh
source gradle/use-gradle.sh
rm -rf "$GRADLE_USER_HOME"
properties "file://$zip" "$(printf '0%.0s' {1..64})"
why=$(gradle_usable "$project/gradlew")
status=$?
expect ci_goes_without_gradle_on_a_checksum_mismatch \
  '[[ $status != 0 ]] && grep -q "SHA-256 mismatch" <<<"$why"' "gradle_usable did not refuse it with the reason: $why"
properties "file://$zip" "$sha256"
why=$(gradle_usable "$project/gradlew")
status=$?
expect ci_uses_gradle_once_it_runs \
  '[[ $status == 0 && -z $why && -x $dist/gradle-$version/bin/gradle ]]' "gradle_usable refused a distribution that runs: $why"

# An earlier run killed mid-unzip: a runnable bin/gradle with part of lib/ in the unpack folder.
rm -rf "$GRADLE_USER_HOME"
mkdir -p "$dist/unpacking/gradle-$version/bin"
cp "$work/src/gradle-$version/bin/gradle" "$dist/unpacking/gradle-$version/bin/"
properties "file://$zip" "$sha256"
status=$(run build)
expect interrupted_unpack_is_redone \
  '[[ $status == 0 && -f $dist/gradle-$version/lib/core.jar && ! -e $dist/unpacking ]] && grep -q downloading "$work/err"' \
  "an interrupted unpack was not redone"

# Terminated mid-download (a TERM to its process group, as from a CI timeout): the partial file
# goes too. (With INT, as Ctrl-C sends, it went without the trap too, on this machine's bash.) The
# distribution comes from a local HTTP server that sends a few bytes of it and then nothing.
rm -rf "$GRADLE_USER_HOME"
serve_stalled_download
setsid "$project/gradlew" build >"$work/out" 2>"$work/err" &
gradlew_pid=$!
wait_for_partial_download
started=$([[ -e $part ]] && echo yes || echo no)
kill -TERM -- -"$gradlew_pid" 2>/dev/null
wait "$gradlew_pid"
status=$?
kill "$server" 2>/dev/null
expect an_interrupted_download_leaves_no_partial_file \
  '[[ $started == yes && $status != 0 && ! -e $part ]]' \
  "an interrupted download left its partial file (download seen under way: $started)"

# Terminated alone mid-download (a TERM to gradlew's pid only): its curl, left running, must not
# hold the download lock, or the next gradlew would wait for that curl to end.
rm -rf "$GRADLE_USER_HOME"
serve_stalled_download
"$project/gradlew" build >"$work/out" 2>"$work/err" &
gradlew_pid=$!
wait_for_partial_download
curl_pid=$(pgrep -x -P "$gradlew_pid" curl)   # to end it below, by its pid
kill -TERM "$gradlew_pid" 2>/dev/null
wait "$gradlew_pid"
status=$?
lock=$([[ -e $dist.lock ]] && flock -n "$dist.lock" true && echo free || echo held)
[[ -z $curl_pid ]] || kill "$curl_pid" 2>/dev/null
kill "$server" 2>/dev/null
expect a_download_left_running_holds_no_lock \
  '[[ $status != 0 && $lock == free ]]' \
  "the download lock was $lock after gradlew alone was terminated"

junit_xml gradlew build/test-results/gradlew/TEST-gradlew.xml "${cases[@]}"
