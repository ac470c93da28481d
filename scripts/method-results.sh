#!/usr/bin/env bash
# Reproduces the method tables of docs/results.md: every method pretrains for
# the same number of epochs with batch 256 (papers' defaults otherwise, plus
# one small-image adjustment for all: crops of at least 30% of the image, no
# flips on digits), then its frozen encoder is evaluated by kNN and by the
# linear probe (selfsup eval probes) in the same harness as the raw-pixel and
# random-init baselines. Convolutional
# methods use resnet-small, MAE vit-tiny (each has its own random-init row);
# CPC, colorization and split-brain, whose evaluated features are not the
# backbone's output on the whole image (a mean over a patch grid, the
# lightness channel, two halves), and MAE, whose encoder starts with fixed
# sine-cosine position embeddings, also get a random-<method> row: the
# weights their run starts from, evaluated their way.
# The run's last held-out pretext metrics (the heldout_* keys of its
# metrics.jsonl) go into the row. One JSON line per row is appended to
# $OUT/results.jsonl; rerunning skips rows already there.
#
# Usage: scripts/method-results.sh [OUT] [EPOCHS]   (defaults: runs/results, 1)
# Environment: METHODS (default: the contrastive and grey-image pretext
# methods), DATASETS (default: "mnist fashion-mnist"), EXTRA_PARAMS_<method>
# (JSON members added to that method's --params, e.g. EXTRA_PARAMS_byol=
# '"base_momentum":0.99'), ROW_SUFFIX (appended to the row name of such runs).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/results}
epochs=${2:-1}
mkdir -p "$out"
bin="$out/selfsup"
go build -o "$bin" ./cmd/selfsup
results="$out/results.jsonl"
touch "$results"
methods=${METHODS:-"simclr moco mocov3 byol simsiam barlow vicreg dino cpc rotation location jigsaw inpainting mae"}
datasets=${DATASETS:-"mnist fashion-mnist"}
suffix=${ROW_SUFFIX:-}

archOf() { case "$1" in mae | random-vit | random-mae) echo vit-tiny ;; *) echo resnet-small ;; esac; }

for data in $datasets; do
  flip=false
  [ "$data" != mnist ] && flip=true
  rows="pixels random"
  case " $methods " in *" mae "*) rows="$rows random-vit" ;; esac
  # methods whose evaluated features are not the backbone's output on the
  # whole image also get the random-init encoder seen their way
  # (MAE's: the fixed sine-cosine position embeddings it starts from)
  for m in cpc colorization splitbrain mae; do
    case " $methods " in *" $m "*) rows="$rows random-$m" ;; esac
  done
  for row in $rows $methods; do
    method=$row
    name=$row
    arch=$(archOf "$row")
    params="{\"augment\":{\"min_scale\":0.3,\"flip\":$flip}}"
    extra_var="EXTRA_PARAMS_${method//-/_}"
    if [ -n "${!extra_var:-}" ]; then
      params="{\"augment\":{\"min_scale\":0.3,\"flip\":$flip},${!extra_var}}"
      name="$row$suffix"
    fi
    if grep -q "\"row\":\"$name\",\"data\":\"$data\"" "$results"; then continue; fi
    run="$out/$name-${data//:/-}"
    metrics="{}"
    if [ "$row" = pixels ]; then
      src=(--baseline pixels)
      secs=0
      params="{}"
      arch="-"
    elif [ "$row" = random ] || [ "$row" = random-vit ]; then
      src=(--baseline random --arch "$arch")
      secs=0
      params="{}"
    elif [ "${row#random-}" != "$row" ]; then
      src=(--baseline random --arch "$arch" --method "${row#random-}")
      secs=0
      params="{}"
    else
      start=$(date +%s)
      "$bin" pretrain --data "$data" --method "$method" --arch "$arch" --epochs "$epochs" --batch 256 \
        --seed 0 --params "$params" --out "$run" --force --quiet >/dev/null
      secs=$(( $(date +%s) - start ))
      src=(--ckpt "$run")
      metrics=$(grep heldout_ "$run/metrics.jsonl" | tail -1 || echo "{}")
    fi
    probes=$("$bin" eval probes "${src[@]}" --data "$data" --quiet --json)
    python3 - "$name" "$method" "$data" "$arch" "$secs" "$probes" "$params" "$epochs" "$metrics" >> "$results" <<'PY'
import json, sys
name, method, data, arch, secs, probes, params, epochs, metrics = sys.argv[1:]
p, m = json.loads(probes), json.loads(metrics)
pretext = {key[len("heldout_"):]: v for key, v in m.items() if key.startswith("heldout_")}
print(json.dumps({"row": name, "data": data, "method": method, "arch": arch, "pretrain_seconds": int(secs),
                  "knn_top1": p["knn_top1"], "linear_top1": p["linear_top1"], "pretext": pretext, "params": params,
                  "epochs": int(epochs)}, separators=(",", ":")))
PY
    tail -1 "$results"
  done
done
