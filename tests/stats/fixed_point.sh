#!/bin/sh
# fixed_point.sh NNC CC REPO WORK — the seed's claim (spec §8) in the CSV that `nnc train --stats`
# writes: on random N(0,1) inputs, through 32 dense layers with LeCun-normal weights, ReLU
# (examples/seed/fixed_relu.nn) ends with an activation variance more than 1000x below the first
# layer's, SELU (fixed_selu.nn) keeps every layer's within 0.5..2. One step of 256 examples each.
# Also: the file has the header of spec §8 and one row per layer of `nnc check`, in depth order.
set -eu
NNC=$1 CC=$2 REPO=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK"
awk -v seed=1 -v rows=256 -v dim=256 -f "$REPO/examples/seed/normal_csv.awk" > "$WORK/normal.csv"
fail=0
for act in relu selu; do
  "$NNC" train "$REPO/examples/seed/fixed_$act.nn" --cc "$CC" --train-csv "$WORK/normal.csv" --test-csv "$WORK/normal.csv" \
    --batch 256 --quiet --checkpoint "$WORK/$act.ckpt" --stats "$WORK/$act.csv" > "$WORK/$act.out" 2>&1 ||
    { cat "$WORK/$act.out"; echo "FAIL: nnc train $act"; exit 1; }
  head -1 "$WORK/$act.csv" | grep -q '^step,epoch,layer,op,depth,act_mean,act_var,grad_norm,dead_frac,' ||
    { echo "FAIL: $act.csv header: $(head -1 "$WORK/$act.csv")"; fail=1; }
  rows=$(($(wc -l < "$WORK/$act.csv") - 1))
  layers=$("$NNC" check "$REPO/examples/seed/fixed_$act.nn" | sed -n 's/^total: \([0-9]*\) layers.*/\1/p')
  [ "$rows" -eq "$layers" ] || { echo "FAIL: $act.csv has $rows rows for $layers layers"; fail=1; }
done
# relu: first / last act_var > 1000; depths 0..n-1 in order
awk -F, 'NR > 1 { if ($5 != NR - 2) bad = 1; v[NR - 2] = $7; n = NR - 1 }
         END { printf "relu: first layer act_var %g, last %g, ratio %g\n", v[0], v[n - 1], v[0] / v[n - 1];
               if (bad) { print "FAIL: depths out of order"; exit 1 }
               if (!(v[0] > 1000 * v[n - 1])) { print "FAIL: relu variance did not collapse"; exit 1 } }' "$WORK/relu.csv" || fail=1
awk -F, 'NR > 1 { if (NR == 2 || $7 < lo) lo = $7; if ($7 > hi) hi = $7;
                  if (!($7 >= 0.5 && $7 <= 2)) { printf "FAIL: selu %s act_var %g\n", $3, $7; bad = 1 } }
         END { printf "selu: act_var from %g to %g\n", lo, hi; exit bad }' "$WORK/selu.csv" || fail=1
[ $fail -eq 0 ] && echo "fixed_point: ok"
exit $fail
