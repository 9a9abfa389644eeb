#!/bin/sh
# run_unit.sh - run each cmocka unit test binary given as an argument; fail if any fails.
fail=0
passed=0
failed=0
for t in "$@"; do
    if "$t"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $t" >&2
        failed=$((failed + 1))
        fail=1
    fi
done
echo "unit: $passed passed, $failed failed"
exit $fail
