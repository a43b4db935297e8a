# junit_xml <suite> <file> <case>...: writes JUnit XML as the test runners do, and prints each case
# and the totals; fails if a case failed. A case is "name|" (passed) or "name|failure message".
# Sourced by the shell-script tests (gradle/gradlew-test.sh, gradle/script-check/check.sh).
junit_xml() {
  local suite=$1 file=$2 failures=0 c name message
  shift 2
  for c in "$@"; do [[ -n ${c#*|} ]] && failures=$((failures + 1)); done
  mkdir -p "$(dirname "$file")"
  {
    echo "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    echo "<testsuite name=\"$suite\" tests=\"$#\" failures=\"$failures\" errors=\"0\" skipped=\"0\">"
    for c in "$@"; do
      name=${c%%|*} message=${c#*|}
      if [[ -z $message ]]; then
        echo "  <testcase classname=\"$suite\" name=\"$name\"/>"
      else
        message=$(printf '%s' "$message" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/"/\&quot;/g')
        echo "  <testcase classname=\"$suite\" name=\"$name\"><failure message=\"$message\"/></testcase>"
      fi
    done
    echo "</testsuite>"
  } >"$file"
  for c in "$@"; do
    [[ -z ${c#*|} ]] && echo "PASSED ${c%%|*}" || echo "FAILED ${c%%|*}: ${c#*|}"
  done
  echo "$suite: $(($# - failures)) passed, $failures failed"
  [[ $failures == 0 ]]
}
