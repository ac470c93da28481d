#!/usr/bin/env bash
# Reproduces the contrastive-family table of docs/results.md: every method
# pretrains the same backbone for the same number of epochs on MNIST and on
# Fashion-MNIST (papers' defaults, plus one small-image adjustment for all:
# crops of at least 30% of the image, no flips on digits), then the frozen
# encoder is evaluated by kNN and the linear probe. One JSON line per row is
# appended to $OUT/results.jsonl; rerunning skips rows already there.
#
# Usage: scripts/contrastive-results.sh [OUT] [EPOCHS]   (defaults: runs/results, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/results}
epochs=${2:-1}
mkdir -p "$out"
bin="$out/selfsup"
go build -o "$bin" ./cmd/selfsup
results="$out/results.jsonl"
touch "$results"
methods=${METHODS:-"simclr moco mocov3 byol simsiam barlow vicreg dino cpc"}
for data in mnist fashion-mnist; do
  flip=false
  [ "$data" = fashion-mnist ] && flip=true
  params="{\"augment\":{\"min_scale\":0.3,\"flip\":$flip}}"
  for row in random $methods; do
    if grep -q "\"row\":\"$row\",\"data\":\"$data\"" "$results"; then continue; fi
    run="$out/$row-$data"
    if [ "$row" = random ]; then
      src=(--baseline random --arch resnet-small)
      secs=0
    else
      start=$(date +%s)
      "$bin" pretrain --data "$data" --method "$row" --arch resnet-small --epochs "$epochs" --batch 256 \
        --seed 0 --params "$params" --out "$run" --force --quiet >/dev/null
      secs=$(( $(date +%s) - start ))
      src=(--ckpt "$run")
    fi
    knn=$("$bin" eval knn "${src[@]}" --data "$data" --quiet --json)
    lin=$("$bin" eval linear "${src[@]}" --data "$data" --quiet --json)
    python3 - "$row" "$data" "$secs" "$knn" "$lin" "$params" "$epochs" >> "$results" <<'PY'
import json, sys
row, data, secs, knn, lin, params, epochs = sys.argv[1:]
k, l = json.loads(knn), json.loads(lin)
print(json.dumps({"row": row, "data": data, "pretrain_seconds": int(secs), "knn_top1": k["top1"],
                  "linear_top1": l["top1"], "params": params, "epochs": int(epochs)}, separators=(",", ":")))
PY
    tail -1 "$results"
  done
done
