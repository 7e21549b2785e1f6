"""Reference values for infer/eval/metrics.h: sklearn's roc_curve / roc_auc_score (Debian python3-sklearn)
and the reference's get_tpr / get_accuracy (REFERENCE.md §6) on fixed scores, plus our documented EER and
APCER/BPCER/ACER computed independently with numpy.

Run: /usr/bin/python3 tests/reference/make_metrics.py  (writes tests/reference/metrics.safetensors)
Each case stores scores (F64), labels (I64), roc.{fpr,tpr,thr} (sklearn default, drop_intermediate=True),
roc_full.{fpr,tpr,thr} (drop_intermediate=False); the scalar results are in the case's JSON parameters.
"""
import warnings

import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score, roc_curve
import torch

from reftools import Reference


def get_tpr(target, score, fpr_max):
    # The reference's utils/meter.py: the last ROC point with FPR <= fpr_max.
    fpr, tpr, _ = roc_curve(target, score)
    idx = np.where(fpr <= fpr_max)[0]
    return float(tpr[idx[-1]]) if len(idx) else 0.0


def rates(target, score, thr):
    accept = score >= thr
    apcer = float(np.mean(accept[target == 0]))
    bpcer = float(np.mean(~accept[target == 1]))
    return apcer, bpcer, (apcer + bpcer) / 2


def eer(target, score):
    # metrics.h: first full-ROC point i with FPR - FNR >= 0; interpolate FPR on segment (i-1, i).
    fpr, tpr, thr = roc_curve(target, score, drop_intermediate=False)
    d = fpr - (1 - tpr)
    i = int(np.argmax(d >= 0))
    t = 1.0 if d[i] == 0 else -d[i - 1] / (d[i] - d[i - 1])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1])), float(thr[i])


def add_case(ref, name, score, target):
    score = np.asarray(score, dtype=np.float64)
    target = np.asarray(target, dtype=np.int64)
    tensors = {"scores": torch.from_numpy(score.copy()), "labels": torch.from_numpy(target.copy())}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, drop in (("roc", True), ("roc_full", False)):
            fpr, tpr, thr = roc_curve(target, score, drop_intermediate=drop)
            tensors[key + ".fpr"] = torch.from_numpy(fpr.astype(np.float64))
            tensors[key + ".tpr"] = torch.from_numpy(tpr.astype(np.float64))
            tensors[key + ".thr"] = torch.from_numpy(thr.astype(np.float64))
    params = {"n": len(score)}
    if 0 < target.sum() < len(target):
        params["auc"] = float(roc_auc_score(target, score))
        for f, key in ((1e-2, "tpr@1e-2"), (1e-3, "tpr@1e-3"), (1e-4, "tpr@1e-4")):
            params[key] = get_tpr(target, score, f)
        params["apcer"], params["bpcer"], params["acer"] = rates(target, score, 0.5)
        params["accuracy"] = float(np.mean((score >= 0.5) == (target == 1)))
        params["eer"], params["eer_threshold"] = eer(target, score)
        params["acer@eer"] = rates(target, score, params["eer_threshold"])[2]
    ref.case(name, params, **tensors)


def main():
    rng = np.random.default_rng(2019)
    ref = Reference("metrics")

    def mixed(n_real, n_fake, spread):
        s = np.r_[rng.beta(5, 1.5 * spread, n_real), rng.beta(1.5 * spread, 5, n_fake)]
        t = np.r_[np.ones(n_real, np.int64), np.zeros(n_fake, np.int64)]
        p = rng.permutation(len(s))
        return s[p], t[p]

    add_case(ref, "random", *mixed(120, 280, 1.0))
    s, t = mixed(400, 600, 2.0)
    add_case(ref, "tied_2dp", np.round(s, 2), t)
    # Equal (fake, real) steps at successive scores: sklearn drops the collinear middle points, which moves
    # get_tpr (the reference's number) below the maximal TPR at FPR <= f.
    pairs = np.repeat(np.linspace(0.9, 0.1, 200), 2)
    add_case(ref, "tied_pairs", np.r_[pairs, np.full(10, 0.95)], np.r_[np.tile([1, 0], 200), np.ones(10, np.int64)])
    add_case(ref, "all_equal", np.full(50, 0.5), np.r_[np.ones(20, np.int64), np.zeros(30, np.int64)])
    add_case(ref, "separated", np.r_[np.linspace(0.6, 1.0, 30), np.linspace(0.0, 0.4, 70)],
             np.r_[np.ones(30, np.int64), np.zeros(70, np.int64)])
    # Large enough for FPR 1e-3 and 1e-4 to mean something, with pandas-like 17-digit floats.
    add_case(ref, "large", *mixed(2000, 11000, 3.0))
    add_case(ref, "only_real", rng.random(20), np.ones(20, np.int64))
    add_case(ref, "only_fake", rng.random(20), np.zeros(20, np.int64))
    ref.save()


if __name__ == "__main__":
    main()
