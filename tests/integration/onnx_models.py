"""Builders for the tiny ONNX models and Triton-layout repositories the integration tests
generate at test time (onnx.helper, opset 13)."""
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, "examples", "models")

# protocol datatype -> (ONNX element type, config type, numpy dtype or None)
DTYPES = {
    "BOOL": (TensorProto.BOOL, "TYPE_BOOL", np.bool_),
    "UINT8": (TensorProto.UINT8, "TYPE_UINT8", np.uint8),
    "UINT16": (TensorProto.UINT16, "TYPE_UINT16", np.uint16),
    "UINT32": (TensorProto.UINT32, "TYPE_UINT32", np.uint32),
    "UINT64": (TensorProto.UINT64, "TYPE_UINT64", np.uint64),
    "INT8": (TensorProto.INT8, "TYPE_INT8", np.int8),
    "INT16": (TensorProto.INT16, "TYPE_INT16", np.int16),
    "INT32": (TensorProto.INT32, "TYPE_INT32", np.int32),
    "INT64": (TensorProto.INT64, "TYPE_INT64", np.int64),
    "FP16": (TensorProto.FLOAT16, "TYPE_FP16", np.float16),
    "FP32": (TensorProto.FLOAT, "TYPE_FP32", np.float32),
    "FP64": (TensorProto.DOUBLE, "TYPE_FP64", np.float64),
    "BYTES": (TensorProto.STRING, "TYPE_STRING", None),
}


def make_model(nodes, inputs, outputs, initializers=(), name="g", check=True):
    """inputs/outputs: lists of (name, onnx elem type, shape list with str/int/None)."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="inferd-tests")
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    return model.SerializeToString()


def write_model(repo, name, onnx_bytes, config=None, version=1, extra_files=None):
    """Writes <repo>/<name>/<version>/model.onnx (+ config.pbtxt if given)."""
    d = os.path.join(repo, name)
    os.makedirs(os.path.join(d, str(version)), exist_ok=True)
    with open(os.path.join(d, str(version), "model.onnx"), "wb") as f:
        f.write(onnx_bytes)
    if config is not None:
        with open(os.path.join(d, "config.pbtxt"), "w") as f:
            f.write(config)
    for rel, data in (extra_files or {}).items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    return d


def io_block(kind, entries):
    """entries: (name, config type, dims list[, extra text]) -> 'input [ ... ]' text."""
    parts = []
    for e in entries:
        name, ctype, dims = e[:3]
        extra = e[3] if len(e) > 3 else ""
        parts.append('  { name: "%s" data_type: %s dims: [ %s ] %s}'
                     % (name, ctype, ", ".join(str(d) for d in dims), extra))
    return "%s [\n%s\n]\n" % (kind, ",\n".join(parts))


def config_text(name, max_batch_size, inputs, outputs, extra=""):
    return ('name: "%s"\nplatform: "onnxruntime_onnx"\nmax_batch_size: %d\n%s%s'
            'instance_group [ { count: 1, kind: KIND_CPU } ]\n%s'
            % (name, max_batch_size, io_block("input", inputs), io_block("output", outputs),
               extra))


def identity_model(dtype):
    """`identity_<dtype>`: INPUT0 [-1,-1] -> Identity -> OUTPUT0, no batching."""
    et, ct, _ = DTYPES[dtype]
    model = make_model([helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
                       [("INPUT0", et, ["d0", "d1"])], [("OUTPUT0", et, ["d0", "d1"])],
                       name="identity_" + dtype.lower())
    cfg = config_text("identity_" + dtype.lower(), 0,
                      [("INPUT0", ct, [-1, -1])], [("OUTPUT0", ct, [-1, -1])])
    return model, cfg


def cast_model(name, src, dst):
    """`name`: INPUT0 [-1] of src -> Cast(to=dst) -> OUTPUT0 [-1], no batching."""
    se, sc, _ = DTYPES[src]
    de, dc, _ = DTYPES[dst]
    model = make_model([helper.make_node("Cast", ["INPUT0"], ["OUTPUT0"], to=de)],
                       [("INPUT0", se, ["n"])], [("OUTPUT0", de, ["n"])], name=name)
    cfg = config_text(name, 0, [("INPUT0", sc, [-1])], [("OUTPUT0", dc, [-1])])
    return model, cfg


def scalar_model():
    """`scalar_fp32`: a rank-0 FP32 input/output (Identity); config uses Triton's
    dims [1] + reshape { shape: [] } for the scalar, no batching."""
    model = make_model([helper.make_node("Identity", ["x"], ["y"])],
                       [("x", TensorProto.FLOAT, [])], [("y", TensorProto.FLOAT, [])],
                       name="scalar_fp32")
    cfg = config_text("scalar_fp32", 0,
                      [("x", "TYPE_FP32", [1], "reshape: { shape: [ ] } ")],
                      [("y", "TYPE_FP32", [1], "reshape: { shape: [ ] } ")])
    return model, cfg


def batched_add_model(name="batched_add", max_batch_size=8, width=4):
    """x [batch,width] FP32 + y [batch,width] FP32 -> z = x + y, w = x * y."""
    model = make_model(
        [helper.make_node("Add", ["x", "y"], ["z"]), helper.make_node("Mul", ["x", "y"], ["w"])],
        [("x", TensorProto.FLOAT, ["batch", width]), ("y", TensorProto.FLOAT, ["batch", width])],
        [("z", TensorProto.FLOAT, ["batch", width]), ("w", TensorProto.FLOAT, ["batch", width])],
        name=name)
    cfg = config_text(name, max_batch_size,
                      [("x", "TYPE_FP32", [width]), ("y", "TYPE_FP32", [width])],
                      [("z", "TYPE_FP32", [width]), ("w", "TYPE_FP32", [width])])
    return model, cfg


def constant_add_model(value, name="versioned"):
    """x [batch,1] FP32 -> y = x + value. Used to tell versions apart."""
    c = numpy_helper.from_array(np.array([float(value)], dtype=np.float32), "c")
    return make_model([helper.make_node("Add", ["x", "c"], ["y"])],
                      [("x", TensorProto.FLOAT, ["batch", 1])],
                      [("y", TensorProto.FLOAT, ["batch", 1])], initializers=[c], name=name)


def slow_model(name="slow", layers=24, width=256, max_batch_size=256):
    """x [batch,64] FP32 -> every value becomes a row [batch*64, 1] -> MatMul A [1,width]
    -> layers x (MatMul W [width,width], Tanh) -> MatMul [width,1] (mean) -> y [batch,64].
    Cost grows linearly with the batch; used to keep requests in flight.
    Returns (onnx bytes, config text, numpy reference function)."""
    rng = np.random.RandomState(0)
    a = rng.uniform(-1, 1, (1, width)).astype(np.float32)
    w = (rng.uniform(-1, 1, (width, width)) / np.sqrt(width)).astype(np.float32)
    ones = np.full((width, 1), 1.0 / width, np.float32)
    inits = [numpy_helper.from_array(a, "A"), numpy_helper.from_array(w, "W"),
             numpy_helper.from_array(ones, "ones"),
             numpy_helper.from_array(np.array([-1, 1], np.int64), "s1"),
             numpy_helper.from_array(np.array([-1, 64], np.int64), "s2")]
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["col"]),
             helper.make_node("MatMul", ["col", "A"], ["h0"])]
    prev = "h0"
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [prev, "W"], ["m%d" % i]))
        nodes.append(helper.make_node("Tanh", ["m%d" % i], ["h%d" % (i + 1)]))
        prev = "h%d" % (i + 1)
    nodes.append(helper.make_node("MatMul", [prev, "ones"], ["r"]))
    nodes.append(helper.make_node("Reshape", ["r", "s2"], ["y"]))
    model = make_model(nodes, [("x", TensorProto.FLOAT, ["batch", 64])],
                       [("y", TensorProto.FLOAT, ["batch", 64])], initializers=inits, name=name)
    cfg = config_text(name, max_batch_size, [("x", "TYPE_FP32", [64])],
                      [("y", "TYPE_FP32", [64])])

    def reference(x):
        h = np.asarray(x, np.float32).reshape(-1, 1) @ a
        for _ in range(layers):
            h = np.tanh(h @ w)
        return (h @ ones).reshape(-1, 64)

    return model, cfg, reference


def copy_examples(repo, names=None):
    for n in sorted(os.listdir(EXAMPLES)):
        if names is not None and n not in names:
            continue
        shutil.copytree(os.path.join(EXAMPLES, n), os.path.join(repo, n))
