#!/usr/bin/python3
"""Trains the hard-label student of train.py (same data, split, vocab, architecture, seed, schedule; CE only), without retraining
the teacher. Checks that the split and vocab.txt reproduce eval/eval.json first.
Run from the repository root: /usr/bin/python3 models/spam/recipe/baseline.py <spam-assassin package dir>
"""
import json, os, sys, hashlib
import numpy as np, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as tr
tr.setup_determinism()
rows = tr.load_corpus(sys.argv[1])
seen, uniq = set(), []
for r in rows:
    k = hashlib.sha256(r[2].encode("utf-8")).hexdigest()
    if k not in seen:
        seen.add(k); uniq.append(r)
labels = np.array([r[1] for r in uniq])
tri, evi = tr.train_test_split(np.arange(len(uniq)), test_size=tr.EVAL_COUNT, stratify=labels, random_state=tr.SPLIT_SEED)
tri, evi = np.sort(tri), np.sort(evi)
vocab = open(os.path.join(tr.MODEL_DIR, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
vi = {t: i for i, t in enumerate(vocab)}
x = torch.tensor([tr.encode(uniq[i][2], vi) for i in tri]); y = torch.from_numpy(labels[tri].astype(np.int64))
ev = json.load(open(os.path.join(tr.EVAL_DIR, "eval.json")))
xe = torch.tensor([tr.encode(uniq[i][2], vi) for i in evi])
assert xe.tolist() == ev["inputs"], "split or tokenizer differs from the committed eval set"
ye = torch.tensor(ev["labels"])
m = tr.train(tr.STUDENT, x, y, label="student (hard labels)")
p = tr.logits_of(m, xe).argmax(dim=1)
print("hard-label student accuracy", float((p == ye).float().mean()), int((p == ye).sum()))
