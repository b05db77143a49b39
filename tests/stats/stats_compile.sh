#!/bin/sh
# stats_compile.sh NNC CC REPO WORK — `nnc build --stats` on every model of models/ and examples/
# (dense, convolutions, batchnorm, pooling, flatten, skip connections), as float with BLAS, with
# --no-blas and with --double: the C compiles with -std=c99 -pedantic -Wall -Wextra -Werror, and
# has an accumulator for each summary row. Without --stats the C has no statistics code at all
# (golden_tiny_dense_c pins it byte for byte).
set -u
NNC=$1 CC=$2 REPO=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK" || exit 1
fail=0
for model in "$REPO"/models/*.nn "$REPO"/examples/seed/*.nn "$REPO"/tests/stats/stats_full.nn; do
  stem=$(basename "$model" .nn)
  for mode in blas --no-blas --double; do
    out="$WORK/$stem$mode"
    flags=""; [ "$mode" = blas ] || flags=$mode
    # shellcheck disable=SC2086
    "$NNC" build "$model" -o "$out" --stats $flags > "$WORK/log" 2>&1 || { echo "FAIL: nnc build $stem --stats $flags"; cat "$WORK/log"; fail=1; continue; }
    "$CC" -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -I "$out" "$out"/*.c > "$WORK/log" 2>&1 ||
      { echo "FAIL: $stem --stats $flags does not compile cleanly:"; head -20 "$WORK/log"; fail=1; }
  done
  layers=$("$NNC" check "$model" | sed -n 's/^total: \([0-9]*\) layers.*/\1/p')
  grep -q "N_LAYERS $layers\$" "$WORK/${stem}blas"/*.h || { echo "FAIL: $stem: N_LAYERS is not $layers"; fail=1; }
  # every layer's statistics are gathered somewhere: an accumulator 4 L (+0..2) and 4 L + 3 each
  l=0
  while [ $l -lt "$layers" ]; do
    a=$((4 * l)) g=$((4 * l + 3))
    grep -q "nnc_stats_acc\[$a\] +=\|nnc_stats_act(m->nnc_stats_acc + $a," "$WORK/${stem}blas/$stem.c" ||
      { echo "FAIL: $stem: no activation statistics for summary row $l"; fail=1; }
    grep -q "nnc_stats_acc\[$g\] +=\|nnc_stats_grad(m->nnc_stats_acc + $a," "$WORK/${stem}blas/$stem.c" ||
      { echo "FAIL: $stem: no gradient statistics for summary row $l"; fail=1; }
    l=$((l + 1))
  done
  "$NNC" build "$model" -o "$WORK/plain_$stem" > /dev/null 2>&1 &&
    ! grep -q "nnc_stats_a\|nnc_stats_grad\|nnc_stats_layers\|stats_on\|stats_step\|_layer_stats\|_N_LAYERS" "$WORK/plain_$stem/"*.c "$WORK/plain_$stem/"*.h ||
    { echo "FAIL: $stem built without --stats mentions statistics"; fail=1; }
done
[ $fail -eq 0 ] && echo "stats_compile: ok"
exit $fail
