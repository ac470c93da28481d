#!/usr/bin/env bash
# Side-by-side engine comparison: runs each workload of `selfsup bench` and of
# shared/bench/torch_reference.py alternately ROUNDS times (default 3) on this
# machine and prints every JSON line, then a table of the best throughput of
# each engine and their ratio (best-of-N damps the noise of shared machines).
#
# Usage: bench/compare.sh [ROUNDS] [WORKLOAD...]
# Needs: /usr/bin/python3 with torch (apt-get install -y python3-torch).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
  workloads=(simclr-resnet-small simclr-resnet18 mae-vit-tiny embed-resnet18)
fi
torch_ref=${TORCH_REFERENCE:-../shared/bench/torch_reference.py}
bin=$(mktemp -d)/selfsup
go build -o "$bin" ./cmd/selfsup
out=$(mktemp)
for w in "${workloads[@]}"; do
  for ((i = 0; i < rounds; i++)); do
    GOMAXPROCS=2 "$bin" bench --workload "$w" | tee -a "$out"
    /usr/bin/python3 "$torch_ref" --threads 2 --workload "$w" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    eng = "torch" if r["engine"].startswith("pytorch") else "go"
    k = (r["workload"], eng)
    if k not in best or r["throughput"] > best[k]["throughput"]:
        best[k] = r
print()
print(f"{'workload':22} {'selfsup':>10} {'pytorch':>10} {'ratio':>6} {'RSS go':>8} {'RSS torch':>9} {'RSS ratio':>9}  unit")
for w in dict.fromkeys(k[0] for k in best):
    g, t = best.get((w, "go")), best.get((w, "torch"))
    if not g or not t:
        continue
    print(f"{w:22} {g['throughput']:10.1f} {t['throughput']:10.1f} {g['throughput']/t['throughput']:6.2f} "
          f"{g['peak_rss_mib']:8.0f} {t['peak_rss_mib']:9.0f} {g['peak_rss_mib']/t['peak_rss_mib']:9.2f}  {g['unit']}")
PY
