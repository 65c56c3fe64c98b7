#!/usr/bin/python3
"""Fine-tunes the weights of a structurally pruned spam teacher (the graph `edge-infer prune` wrote)
and writes them back into that same graph: same nodes, same initializer names and shapes, new values.

Run from the repository root:
  /usr/bin/python3 models/spam/recipe/finetune.py <spam-assassin package dir> <pruned.onnx> <out.onnx>
Soft targets come from models/spam/teacher-fp32.onnx (loaded into torch the same way), on the train
split train.py made (same dedup, split seed and vocab.txt); the eval split is never seen.
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as tr  # noqa: E402

FINETUNE = dict(epochs=1, batch=32, lr=3e-4, weight_decay=0.01, seed=3)


def onnx_to_torch(path, cfg):
    """A SpamTransformer with the ONNX file's weights. Returns (model, mapping) where mapping lists
    (initializer name, torch parameter name, transposed?) for every parameter."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    fc1 = next(n for n in m.graph.node if n.name == "/blocks.0/fc1/MatMul")
    cfg = {**cfg, "ffn": int(inits[fc1.input[1]].shape[1]), "dropout": 0.0}
    model = tr.SpamTransformer(**cfg)
    params = dict(model.named_parameters())
    mapping = []
    for name in params:
        if name in inits:
            mapping.append((name, name, False))
    mapped = {p for _, p, _ in mapping}
    # The exporter shares equal initializers through Identity nodes; follow them to the initializer.
    alias = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "Identity"}

    def resolve(name):
        while name in alias and name not in inits:
            name = alias[name]
        return name
    for n in m.graph.node:
        module = n.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
        if n.op_type == "MatMul" and n.input[1] in inits and n.input[1] not in params:
            mapping.append((n.input[1], module + ".weight", True))
        if n.op_type == "LayerNormalization":  # the exporter may rename (or share) LayerNorm initializers
            for i, suffix in ((1, ".weight"), (2, ".bias")):
                if module + suffix not in mapped:
                    mapping.append((resolve(n.input[i]), module + suffix, False))
    assert sorted(p for _, p, _ in mapping) == sorted(params), f"unmapped parameters: {set(params) - {p for _, p, _ in mapping}}"
    with torch.no_grad():
        for iname, pname, tp in mapping:
            a = inits[iname].T if tp else inits[iname]
            assert tuple(a.shape) == tuple(params[pname].shape), (iname, pname, a.shape, params[pname].shape)
            params[pname].copy_(torch.from_numpy(np.ascontiguousarray(a)))
    return model, mapping, m


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    pkg, pruned_path, out_path = sys.argv[1:]
    tr.setup_determinism()
    rows = tr.load_corpus(os.path.abspath(pkg))
    seen, uniq = set(), []
    for r in rows:
        key = r[2]
        if key not in seen:
            seen.add(key)
            uniq.append(r)
    labels = np.array([r[1] for r in uniq])
    train_idx, _ = tr.train_test_split(np.arange(len(uniq)), test_size=tr.EVAL_COUNT, stratify=labels, random_state=tr.SPLIT_SEED)
    train_idx = np.sort(train_idx)
    with open(os.path.join(tr.MODEL_DIR, "vocab.txt"), encoding="utf-8") as f:
        vindex = {t: i for i, t in enumerate(f.read().split("\n")[:-1])}
    x = torch.tensor([tr.encode(uniq[i][2], vindex) for i in train_idx], dtype=torch.int64)
    y = torch.from_numpy(labels[train_idx].astype(np.int64))

    teacher, _, _ = onnx_to_torch(os.path.join(tr.MODEL_DIR, "teacher-fp32.onnx"), tr.TEACHER)
    teacher.eval()
    soft = tr.logits_of(teacher, x)
    model, mapping, graph = onnx_to_torch(pruned_path, tr.TEACHER)
    print(f"pruned model: {tr.count_params(model)} params; fine-tuning {FINETUNE}")
    torch.manual_seed(FINETUNE["seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=FINETUNE["lr"], weight_decay=FINETUNE["weight_decay"])
    gen = torch.Generator().manual_seed(FINETUNE["seed"])
    T, alpha = tr.DISTILL["temperature"], tr.DISTILL["alpha"]
    n = x.shape[0]
    for epoch in range(FINETUNE["epochs"]):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, FINETUNE["batch"]):
            idx = perm[i:i + FINETUNE["batch"]]
            logits = model(x[idx])
            loss = alpha * F.kl_div(F.log_softmax(logits / T, dim=1), F.softmax(soft[idx] / T, dim=1), reduction="batchmean") * T * T \
                + (1 - alpha) * F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"  epoch {epoch + 1}: loss {total / n:.4f}", flush=True)
    model.eval()
    params = dict(model.named_parameters())
    by_name = {t.name: t for t in graph.graph.initializer}
    shared = [i for i, _, _ in mapping if [j for j, _, _ in mapping].count(i) > 1]
    assert not shared, f"initializers shared by several parameters cannot be written back: {sorted(set(shared))}"
    for iname, pname, tp in mapping:
        a = params[pname].detach().numpy()
        by_name[iname].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(a.T if tp else a).astype(np.float32), iname))
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, out_path)
    print(f"wrote {out_path} ({os.path.getsize(out_path)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
