#!/usr/bin/env python3
"""Reference values for eval/cluster_metrics_test.go.

Computes NMI (arithmetic normalisation), ARI and cluster accuracy with the
formulas of scikit-learn (normalized_mutual_info_score, adjusted_rand_score
via the pair confusion matrix, and linear_sum_assignment on the contingency
table), using only the Python standard library: numpy and sklearn are not
installed here. ARI is also computed with the classic Hubert-Arabie formula
in exact rational arithmetic as a cross-check, and the accuracy by brute
force over all matchings (independent of the Hungarian algorithm under
test).

Run: python3 eval/testdata/cluster_ref.py
"""
import itertools
import math
import random
from fractions import Fraction


def contingency(a, b):
    ra = {v: i for i, v in enumerate(dict.fromkeys(a))}
    cb = {v: i for i, v in enumerate(dict.fromkeys(b))}
    t = [[0] * len(cb) for _ in ra]
    for x, y in zip(a, b):
        t[ra[x]][cb[y]] += 1
    return t


def entropy(sizes, n):
    return -sum(s / n * math.log(s / n) for s in sizes if s)


def nmi(a, b):
    t = contingency(a, b)
    n = len(a)
    if len(t) == 1 and len(t[0]) == 1:
        return 1.0
    rows = [sum(r) for r in t]
    cols = [sum(c) for c in zip(*t)]
    mi = sum(c / n * math.log(n * c / (rows[i] * cols[j]))
             for i, r in enumerate(t) for j, c in enumerate(r) if c)
    if mi <= 0:
        return 0.0
    return mi / ((entropy(rows, n) + entropy(cols, n)) / 2)


def ari(a, b):
    t = contingency(a, b)
    n = len(a)
    rows = [sum(r) for r in t]
    cols = [sum(c) for c in zip(*t)]
    sum_sq = sum(c * c for r in t for c in r)
    tp = sum_sq - n
    fp = sum(c * c for c in cols) - sum_sq
    fn = sum(r * r for r in rows) - sum_sq
    tn = n * n - fp - fn - sum_sq
    if fp == 0 and fn == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def ari_classic(a, b):
    t = contingency(a, b)
    c2 = lambda x: Fraction(x * (x - 1), 2)
    idx = sum(c2(c) for r in t for c in r)
    sa = sum(c2(sum(r)) for r in t)
    sb = sum(c2(sum(c)) for c in zip(*t))
    exp = sa * sb / c2(len(a))
    mx = (sa + sb) / 2
    if mx == exp:
        return None
    return float((idx - exp) / (mx - exp))


def accuracy(a, b):
    t = contingency(a, b)
    r, c = len(t), len(t[0])
    best = 0
    if r <= c:
        for cols in itertools.permutations(range(c), r):
            best = max(best, sum(t[i][cols[i]] for i in range(r)))
    else:
        for rows in itertools.permutations(range(r), c):
            best = max(best, sum(t[rows[j]][j] for j in range(c)))
    return best / len(a)


CASES = [
    ("identical", [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]),
    ("renamed", [0, 0, 1, 1], [1, 1, 0, 0]),
    ("split class", [0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]),
    ("sklearn doc 0.57", [0, 0, 1, 2], [0, 0, 1, 1]),
    ("all singletons", [0, 0, 0, 0], [0, 1, 2, 3]),
    ("one cluster", [0, 0, 1, 1, 2, 2], [5, 5, 5, 5, 5, 5]),
    ("mixed", [0, 0, 1, 1, 2, 2, 2, 2], [1, 1, 0, 0, 0, 2, 2, 2]),
    ("worse than random", [0, 0, 1, 1], [0, 1, 0, 1]),
]
rng = random.Random(3)
CASES.append(("random 30 points, 3 classes, 4 clusters",
              [rng.randrange(3) for _ in range(30)], [rng.randrange(4) for _ in range(30)]))
CASES.append(("random 25 points, 5 classes, 3 clusters",
              [rng.randrange(5) for _ in range(25)], [rng.randrange(3) for _ in range(25)]))

for name, a, b in CASES:
    r1, r2 = ari(a, b), ari_classic(a, b)
    assert r2 is None or abs(r1 - r2) < 1e-12, (name, r1, r2)
    lit = lambda v: "[]int{" + ", ".join(map(str, v)) + "}"
    print('{"%s", %s, %s, %.15g, %.15g, %.15g},' % (name, lit(a), lit(b), nmi(a, b), r1, accuracy(a, b)))
