#!/usr/bin/env python3
"""Formats the JSON lines of scripts/contrastive-results.sh as the Markdown
table of docs/results.md (one table per dataset, with the command that
reproduces each row).

Usage: scripts/results-table.py runs/results/results.jsonl
"""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = {"random": "random-init encoder (BN stats of 10k train images)", "simclr": "SimCLR", "moco": "MoCo v2",
         "mocov3": "MoCo v3", "byol": "BYOL", "simsiam": "SimSiam", "barlow": "Barlow Twins", "vicreg": "VICReg",
         "dino": "DINO (2 global + 6 local crops)", "cpc": "CPC (patch grid)"}
for data in dict.fromkeys(r["data"] for r in rows):
    print(f"\n### {data}\n")
    print("| method | `--method` | kNN top-1 | linear top-1 | pretraining wall clock |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        if r["data"] != data:
            continue
        secs = r["pretrain_seconds"]
        wall = "-" if secs == 0 else f"{secs // 60}m{secs % 60:02d}s"
        flag = "(`--baseline random`)" if r["row"] == "random" else f"`{r['row']}`"
        print(f"| {names.get(r['row'], r['row'])} | {flag} | {100 * r['knn_top1']:.2f} | {100 * r['linear_top1']:.2f} | {wall} |")
    print("\nCommands (per row, METHOD from the `--method` column):\n")
    params = next(r["params"] for r in rows if r["data"] == data)
    epochs = next(r["epochs"] for r in rows if r["data"] == data)
    print("```sh")
    print(f"selfsup pretrain --data {data} --method METHOD --arch resnet-small --epochs {epochs} --batch 256 --seed 0 \\")
    print(f"    --params '{params}' --out runs/results/METHOD-{data}")
    print(f"selfsup eval knn --ckpt runs/results/METHOD-{data} --data {data}")
    print(f"selfsup eval linear --ckpt runs/results/METHOD-{data} --data {data}")
    print(f"selfsup eval knn --baseline random --arch resnet-small --data {data}   # and eval linear: the random-init row")
    print("```")
