#!/usr/bin/python3
"""Recipe for the `digits` model: an fp32 MLP teacher and two small MLP students
(one distilled from the teacher's soft targets, one trained on hard labels only, for comparison).

Run from the repository root:  /usr/bin/python3 models/digits/recipe/train.py
Needs Debian's python3-torch (1.13), python3-onnx (1.12), python3-sklearn (1.2); node + the
repo's node_modules/onnxruntime-node for the final ONNX Runtime check (skipped with a warning
when node is missing).

Writes (paths relative to models/digits/):
  teacher-fp32.onnx, student-fp32.onnx   opset 17, input `input` [batch,64] f32, output `logits` [batch,10]
  eval/eval.json                         {"indices", "inputs", "labels"} - the held-out split
  eval/sample-<d>.json                   {"id", "input"} single-image request bodies
  recipe/metrics.json                    every figure this run measured (RECIPE.md quotes it)
Deterministic: fixed seeds, one thread, torch.use_deterministic_algorithms(True).
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.dirname(HERE)
EVAL_DIR = os.path.join(MODEL_DIR, "eval")

SPLIT_SEED = 0
EVAL_SHARE = 0.2
OPSET = 17

TEACHER = dict(hidden=(256, 256), epochs=120, batch=64, lr=1e-3, weight_decay=1e-4, dropout=0.2, seed=1)
STUDENT = dict(hidden=(32,), epochs=200, batch=64, lr=3e-3, weight_decay=0.0, dropout=0.0, seed=2)
SWEEP_SEEDS = [2, 3, 4, 5, 6]  # includes STUDENT's seed
DISTILL = dict(temperature=4.0, alpha=0.7)  # loss = alpha * T^2 * KL(soft) + (1 - alpha) * CE(hard)


def setup_determinism():
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)
    np.random.seed(0)
    torch.manual_seed(0)


def mlp(hidden, dropout):
    layers, width = [], 64
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
        width = h
    layers.append(torch.nn.Linear(width, 10))
    return torch.nn.Sequential(*layers)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def train(cfg, x, y, soft_teacher=None):
    """Trains an MLP for a fixed number of epochs (no model selection on the eval split).
    soft_teacher: teacher logits for x; when given, the loss mixes soft-target KL and hard CE."""
    torch.manual_seed(cfg["seed"])
    model = mlp(cfg["hidden"], cfg["dropout"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    n = x.shape[0]
    T, alpha = DISTILL["temperature"], DISTILL["alpha"]
    for _ in range(cfg["epochs"]):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg["batch"]):
            idx = perm[i:i + cfg["batch"]]
            logits = model(x[idx])
            hard = F.cross_entropy(logits, y[idx])
            if soft_teacher is None:
                loss = hard
            else:
                soft = F.kl_div(F.log_softmax(logits / T, dim=1),
                                F.softmax(soft_teacher[idx] / T, dim=1),
                                reduction="batchmean") * (T * T)
                loss = alpha * soft + (1 - alpha) * hard
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    return model


@torch.no_grad()
def predict(model, x):
    return model(x).argmax(dim=1)


def export(model, path):
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 64), path,
        opset_version=OPSET, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]
    inits = {i.name for i in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type in ("Gemm", "MatMul"):
            assert node.input[1] in inits, f"{path}: {node.op_type} weight {node.input[1]} is not an initializer"
    print(f"  {os.path.relpath(path)}: opset {m.opset_import[0].version}, ops {ops}, "
          f"{os.path.getsize(path)} bytes")
    return ops


def macs_of(hidden):
    widths = [64, *hidden, 10]
    return sum(a * b for a, b in zip(widths, widths[1:]))


def ort_check(x_eval, expected):
    """Runs both ONNX files in onnxruntime-node (1 thread) on the eval split; returns argmaxes."""
    script = os.path.join(HERE, "ort-predict.mjs")
    repo = os.path.dirname(os.path.dirname(MODEL_DIR))
    try:
        out = subprocess.run(
            ["node", script, os.path.join(EVAL_DIR, "eval.json"),
             os.path.join(MODEL_DIR, "teacher-fp32.onnx"), os.path.join(MODEL_DIR, "student-fp32.onnx")],
            cwd=repo, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        print("  WARNING: node not found; ONNX Runtime check skipped")
        return None
    got = json.loads(out.stdout)
    result = {}
    for name, preds in got.items():
        same = int((np.array(preds) == expected[name]).sum())
        result[name] = {"matching": same, "count": len(preds)}
        print(f"  onnxruntime-node {name}: argmax equal to torch on {same}/{len(preds)}")
        assert same == len(preds), f"{name}: ONNX Runtime predictions differ from torch"
    return result


def load_split():
    """The digits data and the fixed split: (x_all, y_all, train_idx, eval_idx), indices sorted."""
    digits = load_digits()
    x_all = (digits.data / 16.0).astype(np.float32)  # k/16: exact in float32 and in JSON
    y_all = digits.target.astype(np.int64)
    idx = np.arange(len(y_all))
    train_idx, eval_idx = train_test_split(idx, test_size=EVAL_SHARE, stratify=y_all, random_state=SPLIT_SEED)
    return x_all, y_all, np.sort(train_idx), np.sort(eval_idx)


def main():
    setup_determinism()
    x_all, y_all, train_idx, eval_idx = load_split()
    x_tr, y_tr = torch.from_numpy(x_all[train_idx]), torch.from_numpy(y_all[train_idx])
    x_ev, y_ev = torch.from_numpy(x_all[eval_idx]), torch.from_numpy(y_all[eval_idx])
    print(f"digits: {len(y_all)} images, train {len(train_idx)}, eval {len(eval_idx)}")

    teacher = train(TEACHER, x_tr, y_tr)
    with torch.no_grad():
        teacher_logits_tr = teacher(x_tr)
    student = train(STUDENT, x_tr, y_tr, soft_teacher=teacher_logits_tr)
    baseline = train(STUDENT, x_tr, y_tr)

    p_teacher, p_student, p_base = predict(teacher, x_ev), predict(student, x_ev), predict(baseline, x_ev)

    def acc(p):
        return int((p == y_ev).sum()) / len(y_ev)

    def agree(p):
        return int((p == p_teacher).sum()) / len(y_ev)

    n_eval = len(eval_idx)
    metrics = {
        "split": {"seed": SPLIT_SEED, "evalShare": EVAL_SHARE, "train": len(train_idx), "eval": n_eval},
        "teacher": {"params": count_params(teacher), "macs": macs_of(TEACHER["hidden"]),
                    "accuracy": acc(p_teacher), "agreement": 1.0, "correct": int((p_teacher == y_ev).sum())},
        "student": {"params": count_params(student), "macs": macs_of(STUDENT["hidden"]),
                    "accuracy": acc(p_student), "agreement": agree(p_student),
                    "correct": int((p_student == y_ev).sum()), "agreeing": int((p_student == p_teacher).sum())},
        "studentHardLabels": {"params": count_params(baseline), "macs": macs_of(STUDENT["hidden"]),
                              "accuracy": acc(p_base), "agreement": agree(p_base),
                              "correct": int((p_base == y_ev).sum()), "agreeing": int((p_base == p_teacher).sum())},
        "hyperparameters": {"teacher": {**TEACHER, "hidden": list(TEACHER["hidden"])},
                            "student": {**STUDENT, "hidden": list(STUDENT["hidden"])},
                            "distillation": DISTILL, "optimizer": "Adam + cosine LR", "opset": OPSET},
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                     "sklearn": __import__("sklearn").__version__, "numpy": np.__version__},
    }
    for k in ("teacher", "student", "studentHardLabels"):
        m = metrics[k]
        print(f"{k:18s} params {m['params']:6d}  macs {m['macs']:6d}  accuracy {m['accuracy']:.4f} "
              f"({m['correct']}/{n_eval})  agreement with teacher {m['agreement']:.4f}")

    # One seed can flatter either student: repeat both trainings over SWEEP_SEEDS (same data,
    # same teacher) so the effect of distillation is a measured distribution, not one draw.
    sweep = {"seeds": SWEEP_SEEDS, "distilled": [], "hardLabels": []}
    for seed in SWEEP_SEEDS:
        cfg = {**STUDENT, "seed": seed}
        sweep["distilled"].append(acc(predict(train(cfg, x_tr, y_tr, soft_teacher=teacher_logits_tr), x_ev)))
        sweep["hardLabels"].append(acc(predict(train(cfg, x_tr, y_tr), x_ev)))
    for k in ("distilled", "hardLabels"):
        v = sweep[k]
        sweep[k + "Mean"] = sum(v) / len(v)
        print(f"student sweep {k:10s} over seeds {SWEEP_SEEDS}: mean {sweep[k + 'Mean']:.4f}, "
              f"min {min(v):.4f}, max {max(v):.4f}")
    metrics["studentSeedSweep"] = sweep

    os.makedirs(EVAL_DIR, exist_ok=True)
    with open(os.path.join(EVAL_DIR, "eval.json"), "w") as f:
        json.dump({
            "source": "sklearn.datasets.load_digits(); inputs = pixel / 16, row-major 8x8",
            "split": f"train_test_split(test_size={EVAL_SHARE}, stratify=target, random_state={SPLIT_SEED}), sorted",
            "indices": [int(i) for i in eval_idx],
            "inputs": [[float(v) for v in row] for row in x_all[eval_idx]],
            "labels": [int(v) for v in y_all[eval_idx]],
        }, f, separators=(",", ":"))
    # One sample per digit: the first eval image of that digit that teacher and student both get right.
    samples = {}
    for d in range(10):
        for j in range(n_eval):
            if int(y_ev[j]) == d and int(p_teacher[j]) == d and int(p_student[j]) == d:
                samples[d] = j
                break
        with open(os.path.join(EVAL_DIR, f"sample-{d}.json"), "w") as f:
            json.dump({"id": f"sample-{d}", "input": [float(v) for v in x_all[eval_idx[samples[d]]]]}, f)
            f.write("\n")
    metrics["samples"] = {str(d): {"evalPosition": j, "datasetIndex": int(eval_idx[j])} for d, j in samples.items()}

    print("export:")
    metrics["teacher"]["ops"] = export(teacher, os.path.join(MODEL_DIR, "teacher-fp32.onnx"))
    metrics["student"]["ops"] = export(student, os.path.join(MODEL_DIR, "student-fp32.onnx"))
    metrics["onnxruntimeCheck"] = ort_check(x_ev, {"teacher-fp32": p_teacher.numpy(), "student-fp32": p_student.numpy()})

    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.relpath(os.path.join(HERE, 'metrics.json'))}")


if __name__ == "__main__":
    sys.exit(main())
