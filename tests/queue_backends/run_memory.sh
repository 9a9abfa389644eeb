#!/bin/bash
# run_memory.sh - the contract suite against the in-memory backend (the reference behaviour; no
# database needed). Env: BUILD_DIR (default build of this tree).
set -u
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
: "${BUILD_DIR:=$root/build}"
contract=$BUILD_DIR/tests/queue_backends/test_contract
if [ ! -x "$contract" ]; then
    echo "run_memory.sh: $contract is not built (make test-db builds it)" >&2
    exit 1
fi
env -u QB_PERSISTENT QB_BACKEND=memory "$contract"
