#!/usr/bin/env bash
# run_capture.sh OUTDIR -- COMMAND... [--- CAPTURE ARGS...]
# Start a stack server (it prints "PORT <n>" first), run capture.py against it into
# OUTDIR with the given capture.py arguments, then stop the server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1; shift; [ "$1" = "--" ] && shift
cmd=(); while [ $# -gt 0 ] && [ "$1" != "---" ]; do cmd+=("$1"); shift; done
[ $# -gt 0 ] && shift
fifo=$(mktemp -u); mkfifo "$fifo"
"${cmd[@]}" >"$fifo" 2>/tmp/run_capture.$$.err &
pid=$!
exec 3<"$fifo"; rm -f "$fifo"
read -r -t 30 line <&3 || { echo "server printed nothing" >&2; cat /tmp/run_capture.$$.err >&2; kill $pid; exit 1; }
port=${line#PORT }
cat <&3 >/dev/null &
python3 "$here/capture.py" "$port" "$out" "$@"
kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
rm -f /tmp/run_capture.$$.err
