#!/bin/sh
# interrupt.sh — Ctrl-C while `nnc train` runs the C compiler: nnc exits 130 (as the shell reports
# a SIGINT), says it was interrupted (not that the compiler failed), and leaves no nnc-* folder in
# $TMPDIR. The compiler is a stand-in that waits; Ctrl-C is sent, as a terminal does, to the whole
# process group.
#
# usage: interrupt.sh NNC MODEL.nn TRAIN.csv TEST.csv WORK
set -u
nnc=$1 model=$2 train=$3 test=$4 work=$5
rm -rf "$work"
mkdir -p "$work/tmp"
cat > "$work/slow-cc" <<EOF
#!/bin/sh
: > "$work/cc-started"
exec sleep 30
EOF
chmod +x "$work/slow-cc"
# a process group of its own (setsid), as a terminal's foreground job has; its id is nnc's pid
# (and Ctrl-C not ignored, which the shell does for background jobs)
TMPDIR="$work/tmp" setsid env --default-signal=INT,QUIT sh -c 'echo $$ > "$1/pid"; exec "$2" train "$3" --cc "$1/slow-cc" --train-csv "$4" \
  --test-csv "$5" --quiet > "$1/out.txt" 2>&1; ' sh "$work" "$nnc" "$model" "$train" "$test" &
waiter=$!
i=0
while [ ! -e "$work/cc-started" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if [ ! -e "$work/cc-started" ]; then
  echo "FAIL: the stand-in compiler never started"; cat "$work/out.txt"; exit 1
fi
pid=$(cat "$work/pid")
kill -INT -"$pid"
wait "$waiter"
rc=$?
cat "$work/out.txt"
status=0
[ "$rc" -eq 130 ] || { echo "FAIL: exit $rc, expected 130"; status=1; }
grep -q "interrupted" "$work/out.txt" || { echo "FAIL: no 'interrupted' message"; status=1; }
if grep -q "compiler failed" "$work/out.txt"; then echo "FAIL: reported as a compiler failure"; status=1; fi
left=$(ls -A "$work/tmp")
[ -z "$left" ] || { echo "FAIL: left in TMPDIR: $left"; status=1; }
[ $status -eq 0 ] && echo "ok: Ctrl-C while compiling exits 130 and cleans up"
exit $status
