#!/usr/bin/python3
"""Writes the input-path benchmark's repository and request bodies into OUT_DIR:

    OUT_DIR/repo/img224, OUT_DIR/repo/img64   x [1,3,H,W] FP32 -> ReduceMean(H,W) -> y [1,3]
    OUT_DIR/<model>.json          the input as JSON data
    OUT_DIR/<model>.bin           the same input as binary tensor data (header + blob)
    OUT_DIR/<model>.bin.hdr       the JSON header's length, for Inference-Header-Content-Length
    OUT_DIR/<model>.shm.json      a request reading the input from shared-memory region <model>
    /dev/shm/inferd-bench-<model> the region's contents (the caller registers and removes it)

The model is nearly free, so the numbers measure the input path: parsing, copying, mapping.

Usage: /usr/bin/python3 bench/http/make_inputs.py OUT_DIR
"""
import json
import os
import sys

import numpy as np
from onnx import TensorProto, helper


def model(h, w):
    node = helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)
    g = helper.make_graph([node], "img", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 3, h, w])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString()


def main():
    out = sys.argv[1]
    rng = np.random.RandomState(0)
    for name, size in (("img224", 224), ("img64", 64)):
        d = os.path.join(out, "repo", name)
        os.makedirs(os.path.join(d, "1"), exist_ok=True)
        with open(os.path.join(d, "1", "model.onnx"), "wb") as f:
            f.write(model(size, size))
        with open(os.path.join(d, "config.pbtxt"), "w") as f:
            f.write('name: "%s"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 0\n'
                    'input [ { name: "x" data_type: TYPE_FP32 dims: [ 1, 3, %d, %d ] } ]\n'
                    'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1, 3 ] } ]\n'
                    'instance_group [ { count: 2, kind: KIND_CPU } ]\n' % (name, size, size))
        x = rng.uniform(0, 1, (1, 3, size, size)).astype(np.float32)
        shape = [1, 3, size, size]
        # Python's float repr of a float32 value: the shortest text a client would send.
        data = [float(v) for v in x.ravel()]
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump({"inputs": [{"name": "x", "shape": shape, "datatype": "FP32",
                                   "data": data}]}, f)
        blob = x.tobytes()
        header = json.dumps({"inputs": [{"name": "x", "shape": shape, "datatype": "FP32",
                                         "parameters": {"binary_data_size": len(blob)}}]})
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(header.encode() + blob)
        with open(os.path.join(out, name + ".bin.hdr"), "w") as f:
            f.write(str(len(header)))
        with open("/dev/shm/inferd-bench-" + name, "wb") as f:
            f.write(blob)
        with open(os.path.join(out, name + ".shm.json"), "w") as f:
            json.dump({"inputs": [{"name": "x", "shape": shape, "datatype": "FP32",
                                   "parameters": {"shared_memory_region": name,
                                                  "shared_memory_byte_size": len(blob)}}]}, f)


if __name__ == "__main__":
    main()
