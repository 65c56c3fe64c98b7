#!/usr/bin/python3
"""Recipe for the `fashion` model: a small CNN teacher (Conv + BatchNormalization), a distilled
depthwise-separable student, and the teacher with half the channels of every Conv removed
(L1-ranked filters) and fine-tuned with the teacher's soft targets.

Run from the repository root:  nice -n 10 /usr/bin/python3 models/fashion/recipe/train.py
  --reuse   load teacher-fp32.onnx and student-fp32.onnx (the committed ones) instead of training
            them again, and redo only the pruning and its fine-tuning (about a quarter of the time)
Needs Debian's dataset-fashion-mnist (idx files under /usr/share/datasets/fashion-mnist),
python3-torch (1.13), python3-onnx (1.12), python3-numpy; node + the repo's
node_modules/onnxruntime-node for the final ONNX Runtime check.

Writes (paths relative to models/fashion/):
  teacher-fp32.onnx, student-fp32.onnx, teacher-pruned50.onnx
      opset 17, input `input` [batch,1,28,28] f32 in 0..1 (light garment on black, as in the
      dataset), output `logits` [batch,10]; BatchNormalization kept as its own node (not folded)
  eval/eval.json         {"source","split","indices","shape","inputs","labels"}: 500 test images
  eval/calibration.json  {"source","indices","shape","inputs"}: 200 train images (static int8 calibration)
  eval/sample-<c>.json   {"id","input"} one request body per class c = 0..9
  recipe/metrics.json    every figure this run measured (RECIPE.md quotes it)
Deterministic: fixed seeds, one thread, torch.use_deterministic_algorithms(True).
"""
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import onnx
import onnx.numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.dirname(HERE)
EVAL_DIR = os.path.join(MODEL_DIR, "eval")
DATA_DIR = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

OPSET = 17
EVAL_PER_CLASS = 50     # eval.json: the first 50 test images of each class (500 in all)
CALIB_COUNT = 200       # calibration.json: 200 train images picked with a fixed seed
DECIMALS = 3            # JSON sets store pixel/255 rounded to 3 decimals (keeps eval.json ~1 MB)
TEACHER = dict(epochs=4, batch=128, lr=2e-3, weight_decay=1e-4, seed=1)
STUDENT = dict(epochs=4, batch=128, lr=3e-3, weight_decay=0.0, seed=2)
FINETUNE = dict(epochs=8, batch=128, lr=2e-3, weight_decay=0.0, seed=3)
DISTILL = dict(temperature=4.0, alpha=0.7)  # loss = alpha * T^2 * KL(soft) + (1 - alpha) * CE(hard)
PRUNE_KEEP = 0.5


def setup_determinism():
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)
    np.random.seed(0)
    torch.manual_seed(0)


def read_idx(name):
    with gzip.open(os.path.join(DATA_DIR, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def conv_bn(cin, cout, groups=1, k=3):
    return [nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def teacher_net(w=(16, 32, 32, 64)):
    """Conv-BN-ReLU x4 with two 2x2 max-pools, global average pool, one Linear."""
    return nn.Sequential(*conv_bn(1, w[0]), nn.MaxPool2d(2),
                         *conv_bn(w[0], w[1]), *conv_bn(w[1], w[2]), nn.MaxPool2d(2),
                         *conv_bn(w[2], w[3]),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w[3], 10))


def dw_sep(cin, cout):
    return [*conv_bn(cin, cin, groups=cin), *conv_bn(cin, cout, k=1)]


def student_net():
    """One plain Conv, then depthwise-separable blocks (depthwise 3x3 + pointwise 1x1)."""
    return nn.Sequential(*conv_bn(1, 16), nn.MaxPool2d(2),
                         *dw_sep(16, 32), nn.MaxPool2d(2),
                         *dw_sep(32, 64), *dw_sep(64, 64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def count_macs(model):
    """Multiply-accumulates of Conv2d and Linear layers for one 1x28x28 image (hooks on a forward)."""
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
            total[0] += out.numel() * k
        elif isinstance(mod, nn.Linear):
            total[0] += mod.in_features * mod.out_features
    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()
        model(torch.zeros(1, 1, 28, 28))
    for h in hs:
        h.remove()
    return total[0]


def fit(model, cfg, x, y, soft_teacher=None):
    """Trains for a fixed number of epochs (no model selection on the eval split). soft_teacher:
    (teacher logits for x, for x flipped left-right); when given, the loss mixes soft-target KL
    and hard CE (DISTILL)."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps = cfg["epochs"] * ((x.shape[0] + cfg["batch"] - 1) // cfg["batch"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=steps)
    gen = torch.Generator().manual_seed(cfg["seed"])
    n = x.shape[0]
    T, alpha = DISTILL["temperature"], DISTILL["alpha"]
    for epoch in range(cfg["epochs"]):
        t0 = time.time()
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg["batch"]):
            idx = perm[i:i + cfg["batch"]]
            xb = x[idx]
            # Random horizontal flip (garments are roughly mirror-symmetric), seeded.
            flip = torch.rand(xb.shape[0], generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            logits = model(xb)
            hard = F.cross_entropy(logits, y[idx])
            if soft_teacher is None:
                loss = hard
            else:
                t_logits = torch.where(flip[:, None], soft_teacher[1][idx], soft_teacher[0][idx])
                soft = F.kl_div(F.log_softmax(logits / T, dim=1), F.softmax(t_logits / T, dim=1),
                                reduction="batchmean") * (T * T)
                loss = alpha * soft + (1 - alpha) * hard
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"    epoch {epoch + 1}/{cfg['epochs']} loss {float(loss):.4f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    return model


@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    return torch.cat([model(x[i:i + batch]).argmax(dim=1) for i in range(0, x.shape[0], batch)])


@torch.no_grad()
def logits_of(model, x, batch=1000):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def prune_teacher(teacher, keep=PRUNE_KEEP):
    """A copy of the teacher with round(keep * C) filters of every Conv kept, ranked by the L1 norm
    of each filter's weights; the BatchNormalization after it and the next layer's input channels
    (the next Conv, or the Linear after global pooling) are cut to match."""
    widths = [m.out_channels for m in teacher.modules() if isinstance(m, nn.Conv2d)]
    pruned = teacher_net(tuple(max(1, round(w * keep)) for w in widths))
    src = [m for m in teacher.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]
    dst = [m for m in pruned.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]
    kept_in = torch.arange(1)
    with torch.no_grad():
        for i in range(0, len(src) - 1, 2):
            conv, bn, pconv, pbn = src[i], src[i + 1], dst[i], dst[i + 1]
            l1 = conv.weight.abs().sum(dim=(1, 2, 3))
            kept = torch.sort(torch.argsort(l1, descending=True)[:pconv.out_channels]).values
            pconv.weight.copy_(conv.weight[kept][:, kept_in])
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(pbn, name).copy_(getattr(bn, name)[kept])
            kept_in = kept
        dst[-1].weight.copy_(src[-1].weight[:, kept_in])
        dst[-1].bias.copy_(src[-1].bias)
    return pruned


def load_onnx_weights(model, path):
    """Copies a file export() wrote back into `model` (same architecture): every parameter and
    BatchNormalization buffer is an initializer named as in model.state_dict()."""
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    state = model.state_dict()
    missing = [k for k in state if not k.endswith("num_batches_tracked") and k not in inits]
    assert not missing, f"{path}: no initializers for {missing}"
    model.load_state_dict({k: (torch.from_numpy(inits[k].copy()) if k in inits else v) for k, v in state.items()})
    model.eval()
    return model


def export(model, path):
    """ONNX export with BatchNormalization kept as a node (TrainingMode.PRESERVE on an eval-mode
    model skips torch's Conv+BN folding), dynamic batch."""
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), path,
        opset_version=OPSET, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = sorted({n.op_type for n in m.graph.node})
    inits = {i.name for i in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            assert node.input[1] in inits, f"{path}: {node.op_type} weight {node.input[1]} is not an initializer"
    print(f"  {os.path.relpath(path)}: opset {m.opset_import[0].version}, ops {ops}, {os.path.getsize(path)} bytes")
    return ops


def ort_check(files, expected):
    """Runs the ONNX files in onnxruntime-node (1 thread) on eval.json; asserts argmax == torch's."""
    script = os.path.join(HERE, "ort-predict.mjs")
    repo = os.path.dirname(os.path.dirname(MODEL_DIR))
    try:
        out = subprocess.run(["node", script, os.path.join(EVAL_DIR, "eval.json"), *files],
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


def rows(x_u8):
    """uint8 images -> list of flat rows of pixel/255 rounded to DECIMALS (the JSON sets' values)."""
    return [[round(float(v) / 255.0, DECIMALS) for v in img.reshape(-1)] for img in x_u8]


def main():
    setup_determinism()
    t_start = time.time()
    x_tr_u8, y_tr_np = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    x_te_u8, y_te_np = read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")
    if os.environ.get("FASHION_QUICK") == "1":  # smoke run of the whole pipeline: 3,000 images, 1 epoch
        x_tr_u8, y_tr_np = x_tr_u8[:3000], y_tr_np[:3000]
        for cfg in (TEACHER, STUDENT, FINETUNE):
            cfg["epochs"] = 1
    x_tr = torch.from_numpy(x_tr_u8.astype(np.float32) / 255.0).unsqueeze(1)
    y_tr = torch.from_numpy(y_tr_np.astype(np.int64))
    x_te = torch.from_numpy(x_te_u8.astype(np.float32) / 255.0).unsqueeze(1)
    y_te = torch.from_numpy(y_te_np.astype(np.int64))
    eval_idx = np.sort(np.concatenate([np.nonzero(y_te_np == c)[0][:EVAL_PER_CLASS] for c in range(10)]))
    calib_idx = np.sort(np.random.RandomState(7).choice(len(y_tr_np), CALIB_COUNT, replace=False))
    # The eval split exactly as eval.json stores it (rounded), so torch's figures match the TS tools'.
    x_ev = torch.tensor(rows(x_te_u8[eval_idx]), dtype=torch.float32).reshape(-1, 1, 28, 28)
    y_ev = y_te[eval_idx]
    print(f"fashion-mnist: train {len(y_tr)}, test {len(y_te)}, eval subset {len(eval_idx)}")

    reuse = "--reuse" in sys.argv[1:]
    if reuse:
        print("teacher and student: loaded from the committed ONNX files (--reuse)")
        teacher = load_onnx_weights(teacher_net(), os.path.join(MODEL_DIR, "teacher-fp32.onnx"))
        soft = (logits_of(teacher, x_tr), logits_of(teacher, x_tr.flip(3)))
        student = load_onnx_weights(student_net(), os.path.join(MODEL_DIR, "student-fp32.onnx"))
    else:
        print("teacher:")
        torch.manual_seed(TEACHER["seed"])
        teacher = fit(teacher_net(), TEACHER, x_tr, y_tr)
        soft = (logits_of(teacher, x_tr), logits_of(teacher, x_tr.flip(3)))
        print("student (distilled):")
        torch.manual_seed(STUDENT["seed"])
        student = fit(student_net(), STUDENT, x_tr, y_tr, soft_teacher=soft)
    print("teacher pruned to half the channels, fine-tuned (distilled from the teacher):")
    pruned_raw = prune_teacher(teacher)
    p_raw_ev, p_raw_te = predict(pruned_raw, x_ev), predict(pruned_raw, x_te)
    torch.manual_seed(FINETUNE["seed"])
    pruned = fit(pruned_raw, FINETUNE, x_tr, y_tr, soft_teacher=soft)

    models = {"teacher-fp32": teacher, "student-fp32": student, "teacher-pruned50": pruned}
    p_ev = {k: predict(m, x_ev) for k, m in models.items()}
    p_te = {k: predict(m, x_te) for k, m in models.items()}
    metrics = {"split": {"train": len(y_tr), "test": len(y_te),
                         "eval": f"first {EVAL_PER_CLASS} test images of each class",
                         "evalCount": len(eval_idx), "calibration": f"{CALIB_COUNT} train images, RandomState(7)"}}
    for k, m in models.items():
        metrics[k] = {
            "params": count_params(m), "macs": count_macs(m),
            "evalAccuracy": int((p_ev[k] == y_ev).sum()) / len(y_ev),
            "evalAgreement": int((p_ev[k] == p_ev["teacher-fp32"]).sum()) / len(y_ev),
            "testAccuracy": int((p_te[k] == y_te).sum()) / len(y_te),
            "testAgreement": int((p_te[k] == p_te["teacher-fp32"]).sum()) / len(y_te),
        }
    metrics["teacher-pruned50-before-finetune"] = {
        "evalAccuracy": int((p_raw_ev == y_ev).sum()) / len(y_ev),
        "testAccuracy": int((p_raw_te == y_te).sum()) / len(y_te)}
    for k, v in metrics.items():
        if k != "split":
            print(f"  {k:34s} {json.dumps(v)}")

    os.makedirs(EVAL_DIR, exist_ok=True)
    with open(os.path.join(EVAL_DIR, "eval.json"), "w") as f:
        json.dump({
            "source": f"Debian dataset-fashion-mnist t10k; inputs = pixel / 255 rounded to {DECIMALS} decimals, row-major 28x28",
            "split": f"the first {EVAL_PER_CLASS} test images of each class, in test-set order",
            "labelNames": LABELS, "indices": [int(i) for i in eval_idx], "shape": [1, 28, 28],
            "inputs": rows(x_te_u8[eval_idx]), "labels": [int(v) for v in y_te_np[eval_idx]],
        }, f, separators=(",", ":"))
    with open(os.path.join(EVAL_DIR, "calibration.json"), "w") as f:
        json.dump({
            "source": f"Debian dataset-fashion-mnist train; inputs = pixel / 255 rounded to {DECIMALS} decimals",
            "indices": [int(i) for i in calib_idx], "shape": [1, 28, 28], "inputs": rows(x_tr_u8[calib_idx]),
        }, f, separators=(",", ":"))
    samples = {}
    for c in range(10):
        # The first eval image of class c that every exported model classifies correctly.
        j = next((j for j in range(len(eval_idx)) if int(y_ev[j]) == c and all(int(p_ev[k][j]) == c for k in models)),
                 int(np.nonzero(y_ev.numpy() == c)[0][0]))
        samples[c] = j
        with open(os.path.join(EVAL_DIR, f"sample-{c}.json"), "w") as f:
            json.dump({"id": f"sample-{c}", "input": rows(x_te_u8[eval_idx[j:j + 1]])[0]}, f, separators=(",", ":"))
            f.write("\n")
    metrics["samples"] = {str(c): {"label": LABELS[c], "evalPosition": j, "testIndex": int(eval_idx[j])} for c, j in samples.items()}

    print("export:")
    for k, m in models.items():
        if reuse and k != "teacher-pruned50":
            metrics[k]["ops"] = sorted({n.op_type for n in onnx.load(os.path.join(MODEL_DIR, f"{k}.onnx")).graph.node})
            continue
        metrics[k]["ops"] = export(m, os.path.join(MODEL_DIR, f"{k}.onnx"))
    metrics["onnxruntimeCheck"] = ort_check([os.path.join(MODEL_DIR, f"{k}.onnx") for k in models],
                                            {k: p.numpy() for k, p in p_ev.items()})
    metrics["hyperparameters"] = {"teacher": TEACHER, "student": STUDENT, "finetune": FINETUNE,
                                  "distillation": DISTILL, "pruneKeep": PRUNE_KEEP, "opset": OPSET,
                                  "optimizer": "Adam + one-cycle LR, random horizontal flips"}
    metrics["versions"] = {"torch": torch.__version__, "onnx": onnx.__version__, "numpy": np.__version__}
    metrics["wallSeconds"] = round(time.time() - t_start)
    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.relpath(os.path.join(HERE, 'metrics.json'))} ({metrics['wallSeconds']} s)")


if __name__ == "__main__":
    sys.exit(main())
