#!/usr/bin/env bash
# THIRD-PARTY.md: the Rust crates compiled into libdirectmem.so on Linux x86-64 and aarch64, with
# their licences, from cargo tree (build-time-only proc-macro crates and other targets' crates left out).
#
#   gradle/third-party.sh            writes THIRD-PARTY.md
#   gradle/third-party.sh --check    fails, and writes a failed JUnit case, if it is out of date
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source gradle/junit-xml.sh

render() {
  echo "# Third-party code in directmem"
  echo
  echo "directmem's jar carries a native library built from its own Rust code and the crates below,"
  echo "compiled in statically. Each is used under one of the licences its authors offer (an \"OR\""
  echo "lets the user choose); their texts are in each crate's repository and on crates.io. The Java"
  echo "classes use nothing but the JDK. Regenerate this file with \`gradle/third-party.sh\`."
  echo
  echo "| crate | version | licence | repository |"
  echo "|---|---|---|---|"
  cargo tree --locked -e normal,no-proc-macro --target x86_64-unknown-linux-gnu \
      --target aarch64-unknown-linux-gnu --prefix none \
      -f '{p}|{l}|{r}' | sed 's/ (\*)$//' | grep -v -e '^directmem ' -e '^$' | sort -u |
    while IFS='|' read -r package licence repository; do
      echo "| ${package% v*} | ${package##* v} | $licence | $repository |"
    done
  echo
  echo "Rust's standard library, also compiled in, is under MIT OR Apache-2.0."
}

if [[ ${1:-} == --check ]]; then
  if expected=$(render) && [[ $expected == "$(cat THIRD-PARTY.md 2>/dev/null)" ]]; then
    junit_xml third-party build/test-results/third-party/TEST-third-party.xml "third_party_md_is_current|"
  else
    junit_xml third-party build/test-results/third-party/TEST-third-party.xml \
      "third_party_md_is_current|THIRD-PARTY.md does not list the crates Cargo.lock builds in: run gradle/third-party.sh"
  fi
else
  render >THIRD-PARTY.md && echo "wrote THIRD-PARTY.md"
fi
