#!/usr/bin/env bash
# `make bench`: Benchmarks/run.sh <python> <release-bin-dir>
#
# Installs what the benchmarks need (Debian's postfix: smtp-sink, smtp-source and the Postfix
# peer), builds the load generator, runs Benchmarks/bench.py and prints its table. Everything it
# starts is stopped when it ends, also on Ctrl-C, and Postfix is never left running.
# Sizes: BENCH_MESSAGES, BENCH_RUNS, BENCH_MEMORY, BENCH_BIG, ... (see Benchmarks/README.md).
set -euo pipefail
python="$1"
bin="$2"
shift 2
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

# Postfix, preseeded as a satellite (null client) so the install never asks anything. The relay
# host is set again for each run by bench.py; the package's own start is stopped at once.
if [ "${BENCH_POSTFIX:-1}" != 0 ] && ! dpkg -s postfix >/dev/null 2>&1; then
    echo "bench: installing postfix (smtp-sink, smtp-source and the Postfix peer)" >&2
    $sudo debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Satellite system
postfix postfix/relayhost string [127.0.0.1]:2526
postfix postfix/destinations string
postfix postfix/mailname string maild-bench.localdomain
EOF
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
    $sudo postfix stop >/dev/null 2>&1 || true
fi

mkdir -p .build/bench
cc -O2 -pthread -Wall -o .build/bench/loadgen Benchmarks/loadgen.c -lsqlite3

stop_postfix() {
    if [ "${BENCH_POSTFIX:-1}" != 0 ] && command -v postfix >/dev/null 2>&1 \
        && $sudo postfix status >/dev/null 2>&1; then
        $sudo postfix stop >/dev/null 2>&1 || true
    fi
}

# bench.py runs in a session of its own, so one signal reaches it and everything it started, and
# Ctrl-C on the terminal comes here first instead of racing its clean-up.
pid=""
cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    stop_postfix
}
trap 'cleanup; exit 130' INT TERM HUP
trap cleanup EXIT

setsid "$python" Benchmarks/bench.py --bin "$bin" --loadgen .build/bench/loadgen \
    --json "${BENCH_JSON:-.build/bench/results.json}" "$@" &
pid=$!
rc=0
wait "$pid" || rc=$?
exit "$rc"
