#!/usr/bin/env python3
"""Formats the JSON lines of scripts/method-results.sh as the Markdown tables
of docs/results.md: one table per dataset, with the held-out pretext metric,
kNN and linear top-1 and the pretraining wall clock of every row, and the
commands that reproduce the rows.

Usage: scripts/results-table.py runs/results/results.jsonl
"""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = {"pixels": "raw pixels", "random": "random-init resnet-small", "random-vit": "random-init vit-tiny", "simclr": "SimCLR",
         "moco": "MoCo v2", "mocov3": "MoCo v3", "byol": "BYOL", "simsiam": "SimSiam", "barlow": "Barlow Twins",
         "vicreg": "VICReg", "dino": "DINO (2 global + 6 local crops)", "cpc": "CPC v2 (patch grid)",
         "rotation": "RotNet (4 rotations)", "location": "relative patch location", "jigsaw": "jigsaw (P=64)",
         "inpainting": "context encoder (inpainting)", "mae": "MAE (75% masked)", "colorization": "colorization (Lab bins)",
         "splitbrain": "split-brain autoencoder"}


def sort_key(r, order):
    # a random-<method> row (the random-init encoder seen the way that method
    # evaluates it) sits just above its method, variants (rows named other
    # than their method) just below, each above its own random row
    method = r.get("method", r["row"])
    base = method[len("random-"):] if method.startswith("random-") and method[len("random-"):] in order else method
    rank = order.index(base) if base in order else len(order)
    return (rank, r["row"] != method, base == method)


def label_of(method, arch):
    if method == "random-mae":
        return f"random-init {arch} with MAE's fixed sine-cosine positions (the weights an MAE run starts from)"
    if method.startswith("random-") and method[len("random-"):] in names and method != "random-vit":
        return f"random-init {arch} as {names[method[len('random-'):]]} sees it"
    return names.get(method, method)


def pretext(r):
    # the held-out pretext metrics, accuracies as percentages
    out = []
    for k, v in sorted(r.get("pretext", {}).items()):
        share = ("acc" in k or "chance" in k) and v <= 1
        out.append(f"{k} {100 * v:.1f}%" if share else f"{k} {v:.3g}")
    return "; ".join(out) or "-"


for data in dict.fromkeys(r["data"] for r in rows):
    order = list(names)
    dr = sorted((r for r in rows if r["data"] == data), key=lambda r: sort_key(r, order))
    print(f"\n### {data}\n")
    print("| method | row | backbone | held-out pretext metric | kNN top-1 | linear top-1 | pretraining wall clock |")
    print("|---|---|---|---|---:|---:|---:|")
    for r in dr:
        secs = r["pretrain_seconds"]
        wall = "-" if secs == 0 else f"{secs // 60}m{secs % 60:02d}s"
        if r.get("contended"):
            wall += " *"
        method = r.get("method", r["row"])
        label = label_of(method, r.get("arch", "resnet-small"))
        if r["row"] != method:
            label += f" (`{r['params']}`)"
        print(f"| {label} | `{r['row']}` | {r.get('arch', 'resnet-small')} | {pretext(r)} | "
              f"{100 * r['knn_top1']:.2f} | {100 * r['linear_top1']:.2f} | {wall} |")
    trained = [r for r in dr if r["pretrain_seconds"] > 0]
    if not trained:
        continue
    params = trained[0]["params"]
    epochs = trained[0]["epochs"]
    slug = data.replace(":", "-")
    print("\nCommands (ROW and METHOD from the table, ARCH its backbone):\n")
    print("```sh")
    print(f"selfsup pretrain --data {data} --method METHOD --arch ARCH --epochs {epochs} --batch 256 --seed 0 \\")
    print(f"    --params '{params}' --out runs/results/ROW-{slug}")
    print(f"selfsup eval probes --ckpt runs/results/ROW-{slug} --data {data}     # kNN and linear")
    print(f"selfsup eval probes --baseline random --arch ARCH --data {data}       # the random-init rows")
    if any(r["row"].startswith("random-") and r["row"] != "random-vit" for r in dr):
        print(f"selfsup eval probes --baseline random --method METHOD --data {data}   # the random-METHOD rows")
    print(f"selfsup eval probes --baseline pixels --data {data}")
    print("```")
    if any(r.get("contended") for r in dr):
        print("\n\\* measured while other jobs shared the two cores: the wall clock is inflated (up to about 2x).")
