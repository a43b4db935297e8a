#!/usr/bin/env bash
# Runs the Gradle version pinned in gradle/wrapper/gradle-wrapper.properties. The first run
# downloads the distribution, checks its SHA-256 and unpacks it under ~/.gradle (or
# $GRADLE_USER_HOME); later runs start it straight away.
# Exit status 3: the distribution could not be downloaded.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
properties="$root/gradle/wrapper/gradle-wrapper.properties"
property() { sed -n "s/^$1=//p" "$properties" | tr -d '\r' | sed 's/\\:/:/g'; }

url=$(property distributionUrl)
sha256=$(property distributionSha256Sum)
zip_name=${url##*/}                # gradle-9.3.1-bin.zip
version=${zip_name#gradle-}
version=${version%-bin.zip}
[[ -n $url && -n $sha256 && $zip_name == gradle-?*-bin.zip ]] ||
  { echo "gradlew: $properties needs distributionUrl (a gradle-X-bin.zip) and distributionSha256Sum" >&2; exit 2; }

dist="${GRADLE_USER_HOME:-$HOME/.gradle}/wrapper/dists/gradle-$version-bin/$sha256"
gradle="$dist/gradle-$version/bin/gradle"

if [[ ! -x $gradle ]]; then
  mkdir -p "$dist"
  exec 9>"$dist.lock"
  flock 9   # one download at a time; a second gradlew waits, then finds it done
  if [[ ! -x $gradle ]]; then
    download="$dist/$zip_name.part"
    trap 'rm -f -- "$download"' EXIT   # terminated mid-download (kill), nothing stays behind
    echo "gradlew: downloading Gradle $version from $url" >&2
    # 9>&-: a child left running (curl after its gradlew was killed alone) must not hold the lock.
    # A transfer slower than 1 KiB/s for a minute is abandoned and retried, as is any error, at
    # most 3 times: a stalled download no longer holds the run (and the lock) for good.
    if ! curl -fsSL --retry 3 --retry-all-errors --speed-limit 1024 --speed-time 60 --connect-timeout 20 \
        -o "$download" "$url" 9>&-; then
      rm -f "$download"
      echo "gradlew: could not download $url" >&2
      echo "gradlew: without Gradle, gradle/without-gradle.sh runs the same tasks (check, demo, test, matrix, ...)" >&2
      exit 3
    fi
    actual=$(sha256sum "$download" | cut -d' ' -f1)
    if [[ $actual != "$sha256" ]]; then
      rm -f "$download"
      echo "gradlew: SHA-256 mismatch for $zip_name: expected $sha256, got $actual; refusing it" >&2
      exit 1
    fi
    # Unpacked beside, then moved into place: an interrupted unzip must never leave a
    # runnable bin/gradle over a partial lib/ for the next run to trust.
    unpacking="$dist/unpacking"
    rm -rf "$unpacking" "$dist/gradle-$version"
    unzip -q "$download" -d "$unpacking" 9>&-
    chmod +x "$unpacking/gradle-$version/bin/gradle"
    mv "$unpacking/gradle-$version" "$dist/"
    rm -rf "$unpacking" "$download"
    trap - EXIT
  fi
  exec 9>&-
fi

exec "$gradle" "$@"
