#!/usr/bin/python3
"""Writes the scheduler benchmark's model repositories into OUT_DIR:

    OUT_DIR/batching/{digits,mlp784}   dynamic_batching on
    OUT_DIR/single/{digits,mlp784}     no dynamic_batching (one request per execution)

digits is the example model (64 -> 32 -> 10); mlp784 is a 784 -> 1024 -> 1024 -> 10 ReLU
MLP with fixed random weights. Both have max_batch_size 64 and one CPU instance, so the
two repositories differ only in batching. Also writes, per model, one request for the load
generator in each input encoding:

    OUT_DIR/<model>.json       the input as JSON data
    OUT_DIR/<model>.bin        the same values as binary tensor data (JSON header + raw FP32),
                               outputs asked for in binary too, as Triton's clients do
    OUT_DIR/<model>.bin.hdr    the JSON header's length, for Inference-Header-Content-Length

Usage: /usr/bin/python3 bench/sched/make_models.py OUT_DIR [MAX_QUEUE_DELAY_US]
"""
import json
import os
import shutil
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mlp784():
    rng = np.random.RandomState(0)
    sizes = [784, 1024, 1024, 10]
    inits, nodes, prev = [], [], "x"
    for i in range(3):
        w = (rng.standard_normal((sizes[i], sizes[i + 1])) / np.sqrt(sizes[i])).astype(np.float32)
        b = np.zeros(sizes[i + 1], np.float32)
        inits += [numpy_helper.from_array(w, "W%d" % i), numpy_helper.from_array(b, "B%d" % i)]
        out = "y" if i == 2 else "h%d" % i
        nodes.append(helper.make_node("Gemm", [prev, "W%d" % i, "B%d" % i],
                                      [out if i == 2 else "g%d" % i]))
        if i < 2:
            nodes.append(helper.make_node("Relu", ["g%d" % i], [out]))
        prev = out
    graph = helper.make_graph(
        nodes, "mlp784", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 784])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def config(name, inp, in_dim, outs, batching, delay_us):
    text = 'name: "%s"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 64\n' % name
    text += 'input [ { name: "%s" data_type: TYPE_FP32 dims: [ %d ] } ]\n' % (inp, in_dim)
    text += "output [\n%s\n]\n" % ",\n".join(
        '  { name: "%s" data_type: %s dims: [ %d ] }' % o for o in outs)
    text += "instance_group [ { count: 1, kind: KIND_CPU } ]\n"
    if batching:
        text += "dynamic_batching { max_queue_delay_microseconds: %d }\n" % delay_us
    return text


def main():
    out = sys.argv[1]
    delay = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    mlp = mlp784()
    for mode in ("batching", "single"):
        on = mode == "batching"
        d = os.path.join(out, mode, "digits")
        os.makedirs(os.path.join(d, "1"), exist_ok=True)
        shutil.copy(os.path.join(ROOT, "examples/models/digits/1/model.onnx"),
                    os.path.join(d, "1", "model.onnx"))
        with open(os.path.join(d, "config.pbtxt"), "w") as f:
            f.write(config("digits", "pixels", 64, [("probabilities", "TYPE_FP32", 10),
                                                    ("label", "TYPE_INT64", 1)], on, delay))
        d = os.path.join(out, mode, "mlp784")
        os.makedirs(os.path.join(d, "1"), exist_ok=True)
        with open(os.path.join(d, "1", "model.onnx"), "wb") as f:
            f.write(mlp)
        with open(os.path.join(d, "config.pbtxt"), "w") as f:
            f.write(config("mlp784", "x", 784, [("y", "TYPE_FP32", 10)], on, delay))
    rng = np.random.RandomState(1)
    bodies = {
        "digits": {"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32",
                               "data": rng.randint(0, 17, 64).tolist()}]},
        "mlp784": {"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP32",
                               "data": [round(float(v), 4) for v in rng.uniform(0, 1, 784)]}]},
    }
    for name, body in bodies.items():
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(body, f)
        inp = body["inputs"][0]
        blob = np.asarray(inp["data"], dtype=np.float32).tobytes()
        header = json.dumps({
            "inputs": [{"name": inp["name"], "shape": inp["shape"], "datatype": "FP32",
                        "parameters": {"binary_data_size": len(blob)}}],
            "parameters": {"binary_data_output": True}}).encode()
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(header + blob)
        with open(os.path.join(out, name + ".bin.hdr"), "w") as f:
            f.write(str(len(header)))


if __name__ == "__main__":
    main()
