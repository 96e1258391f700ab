"""The digits example served over HTTP classifies the held-out split exactly as recorded
by scripts/train_digits.py (same predictions, same accuracy)."""
import json
import os
import threading

import numpy as np
import pytest

from conftest import tensor

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits_heldout.json")
MAX_BATCH = 64


@pytest.fixture(scope="module")
def heldout():
    with open(DATA) as f:
        return json.load(f)


def classify(srv, rows):
    r = srv.infer("digits", [tensor("pixels", "FP32", [len(rows), 64], rows)])
    assert r.status == 200, r
    outs = {o["name"]: o for o in r.json()["outputs"]}
    p, lab = outs["probabilities"], outs["label"]
    assert p["shape"] == [len(rows), 10] and p["datatype"] == "FP32"
    assert lab["shape"] == [len(rows), 1] and lab["datatype"] == "INT64"
    return np.array(p["data"], dtype=np.float64).reshape(len(rows), 10), lab["data"]


def test_heldout_accuracy_matches_record(examples_server, heldout):
    X, y = heldout["inputs"], heldout["labels"]
    assert len(X) == len(y) == heldout["count"]
    preds = []
    for i in range(0, len(X), MAX_BATCH):
        probs, labels = classify(examples_server, X[i:i + MAX_BATCH])
        assert labels == probs.argmax(axis=1).tolist()
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
        preds += labels
    correct = sum(int(p == t) for p, t in zip(preds, y))
    accuracy = correct / len(y)
    assert correct == heldout["correct"]
    assert accuracy == heldout["accuracy"]
    assert preds == heldout["predictions"]
    assert accuracy > 0.9


def test_batch_size_does_not_change_results(examples_server, heldout):
    X = heldout["inputs"][:12]
    batch_probs, batch_labels = classify(examples_server, X)
    for i, row in enumerate(X):
        p, lab = classify(examples_server, [row])
        assert lab == [batch_labels[i]]
        assert np.allclose(p[0], batch_probs[i], rtol=1e-5, atol=1e-6)


def test_nested_and_flat_pixels_agree(examples_server, heldout):
    X = heldout["inputs"][:3]
    flat = [v for row in X for v in row]
    r1 = examples_server.infer("digits", [tensor("pixels", "FP32", [3, 64], flat)])
    r2 = examples_server.infer("digits", [tensor("pixels", "FP32", [3, 64], X)])
    assert r1.status == 200 and r2.status == 200
    assert r1.json()["outputs"] == r2.json()["outputs"]


def test_concurrent_batches(examples_server, heldout):
    X, expected = heldout["inputs"], heldout["predictions"]
    errors = []

    def client(k):
        try:
            for start in range(k * 7, len(X), 97):
                rows = X[start:start + 1 + (start % 9)]
                _, labels = classify(examples_server, rows)
                if labels != expected[start:start + len(rows)]:
                    errors.append((start, labels))
        except Exception as e:  # noqa: BLE001
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]


def test_label_only_output(examples_server, heldout):
    X = heldout["inputs"][:5]
    r = examples_server.infer("digits", [tensor("pixels", "FP32", [5, 64], X)],
                              outputs=["label"])
    assert r.status == 200, r
    outs = r.json()["outputs"]
    assert [o["name"] for o in outs] == ["label"]
    assert outs[0]["data"] == heldout["predictions"][:5]
