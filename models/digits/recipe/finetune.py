#!/usr/bin/python3
"""Fine-tunes a structurally pruned digits MLP and writes the new weights back into the same graph.

  /usr/bin/python3 models/digits/recipe/finetune.py <pruned.onnx> <out.onnx>

<pruned.onnx> is what `edge-infer prune` wrote (a dense Gemm/Relu chain with fewer hidden units).
Its weights are loaded (onnx.numpy_helper) into a torch MLP of the same shape, trained on the train
split (the eval split is never seen; epochs fixed in advance) with the teacher's soft targets
(the same distillation loss and T/alpha as the student in train.py; teacher weights read from
teacher-fp32.onnx), then written back into the pruned graph's own initializers: <out.onnx> has
exactly the graph `edge-infer prune` produced, only the weight values differ.
Deterministic: fixed seed, one thread, torch.use_deterministic_algorithms(True).
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import DISTILL, MODEL_DIR, load_split, setup_determinism  # noqa: E402

FINETUNE = dict(epochs=40, batch=64, lr=1e-3, weight_decay=0.0, seed=3)


def gemm_chain(model):
    """The graph's Gemm nodes in order, checked to be Gemm (-> Relu -> Gemm)*; returns (node, W[out,in], b) triples."""
    inits = {t.name: t for t in model.graph.initializer}
    ops = [n.op_type for n in model.graph.node]
    expected = ["Gemm"] + ["Relu", "Gemm"] * ((len(ops) - 1) // 2)
    assert ops == expected, f"expected a Gemm/Relu chain, got {ops}"
    layers = []
    for node in model.graph.node:
        if node.op_type != "Gemm":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs.get("transA", 0) == 0 and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
        w = numpy_helper.to_array(inits[node.input[1]])
        if attrs.get("transB", 0) == 0:
            w = w.T
        b = numpy_helper.to_array(inits[node.input[2]])
        layers.append((node, attrs.get("transB", 0), w, b))
    return layers


def torch_mlp(layers):
    mods = []
    for i, (_, _, w, b) in enumerate(layers):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        mods.append(lin)
        if i < len(layers) - 1:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def main(src, dst):
    setup_determinism()
    x_all, y_all, train_idx, eval_idx = load_split()
    x_tr, y_tr = torch.from_numpy(x_all[train_idx]), torch.from_numpy(y_all[train_idx])
    x_ev, y_ev = torch.from_numpy(x_all[eval_idx]), torch.from_numpy(y_all[eval_idx])

    teacher = torch_mlp(gemm_chain(onnx.load(os.path.join(MODEL_DIR, "teacher-fp32.onnx")))).eval()
    pruned_model = onnx.load(src)
    layers = gemm_chain(pruned_model)
    net = torch_mlp(layers)
    with torch.no_grad():
        soft = teacher(x_tr)
        before = float((net(x_ev).argmax(1) == y_ev).float().mean())

    cfg = FINETUNE
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"])
    T, alpha = DISTILL["temperature"], DISTILL["alpha"]
    n = x_tr.shape[0]
    for _ in range(cfg["epochs"]):
        net.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg["batch"]):
            idx = perm[i:i + cfg["batch"]]
            logits = net(x_tr[idx])
            kd = F.kl_div(F.log_softmax(logits / T, dim=1), F.softmax(soft[idx] / T, dim=1), reduction="batchmean") * (T * T)
            loss = alpha * kd + (1 - alpha) * F.cross_entropy(logits, y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        after = float((net(x_ev).argmax(1) == y_ev).float().mean())

    # Write the trained values into the pruned graph's own initializers (same names, dtypes, layout).
    inits = {t.name: t for t in pruned_model.graph.initializer}
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for (node, trans_b, _, _), lin in zip(layers, linears):
        w = lin.weight.detach().numpy().astype(np.float32)
        for name, value in ((node.input[1], w if trans_b else w.T), (node.input[2], lin.bias.detach().numpy().astype(np.float32))):
            inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), name))
    onnx.checker.check_model(pruned_model, full_check=True)
    onnx.save(pruned_model, dst)
    print(json.dumps({"finetune": cfg, "distillation": DISTILL, "evalAccuracyBefore": before, "evalAccuracyAfter": after,
                      "note": "eval accuracies printed for the record only; nothing is selected on them"}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: finetune.py <pruned.onnx> <out.onnx>")
    main(sys.argv[1], sys.argv[2])
