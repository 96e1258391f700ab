#!/usr/bin/python3
"""Writes the engine benchmark's models and inputs into OUT_DIR:

    OUT_DIR/<model>.onnx       batch dimension symbolic ("N"), opset <= 17
    OUT_DIR/<model>.in.bin     32 input samples, float32 little-endian, C order
    OUT_DIR/models.txt         one line per model: name, then the dims of one sample

The models, each exported the way a real exporter writes them (biases as separate Adds
after MatMul, BatchNormalization unfused after Conv, GELU spelled out in Erf ops), so that
the engine's load-time passes have work to do:

    digits       the example model (examples/models/digits): a 64-32-10 MLP trained on
                 scikit-learn's digits (Div, Gemm, Relu, Softmax, ArgMax); inputs are
                 real digit images
    mlp784       784-1024-1024-10 ReLU MLP, MatMul + Add + Relu
    lenet        LeNet-5 style CNN on 1x28x28: Conv 5x5 + Relu + MaxPool twice, then three
                 Gemm layers (transB = 1, as PyTorch writes Linear)
    resnet       small ResNet on 3x64x64: Conv-BN-Relu stem (stride 2), three residual
                 blocks of Conv-BN-Relu-Conv-BN + shortcut (1x1 Conv-BN where the shape
                 changes) + Add + Relu, 32/64/128 channels, GlobalAveragePool, Gemm
    transformer  one encoder block on 64 tokens x 128 dims, 4 heads: Q/K/V MatMul + Add,
                 Reshape/Transpose to heads, MatMul, Div by sqrt(d), Softmax, MatMul,
                 output projection, residual Add + LayerNormalization, FFN 128-512-128
                 with GELU, residual Add + LayerNormalization

Weights are random with fixed seeds (digits excepted: it is trained), so every run
writes the same files.

Usage: /usr/bin/python3 bench/engine/make_models.py OUT_DIR
"""
import os
import shutil
import sys

import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = 32  # the largest batch the benchmark runs


class Builder:
    """Collects nodes and initializers with generated names."""

    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, stem):
        self.n += 1
        return "%s_%d" % (stem, self.n)

    def const(self, arr, stem="c"):
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def weight(self, shape, fan_in, stem="w"):
        w = self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        return self.const(w.astype(np.float32), stem)

    def bias(self, n):
        return self.const((self.rng.standard_normal(n) * 0.05).astype(np.float32), "b")

    def op(self, op_type, inputs, stem=None, **attrs):
        out = self.name(stem or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def model(self, name, in_name, in_dims, out, out_dims, opset):
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, ["N"] + in_dims)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N"] + out_dims)],
            self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="inferd-bench")
        m.ir_version = 8
        checker.check_model(m)
        return m

    # Layers ------------------------------------------------------------------------

    def linear_matmul(self, x, n_in, n_out, relu):
        y = self.op("Add", [self.op("MatMul", [x, self.weight((n_in, n_out), n_in)]),
                            self.bias(n_out)])
        return self.op("Relu", [y]) if relu else y

    def linear_gemm(self, x, n_in, n_out, relu):
        y = self.op("Gemm", [x, self.weight((n_out, n_in), n_in), self.bias(n_out)], transB=1)
        return self.op("Relu", [y]) if relu else y

    def conv_bn(self, x, c_in, c_out, k, stride, relu):
        w = self.weight((c_out, c_in, k, k), c_in * k * k)
        y = self.op("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride],
                    pads=[k // 2] * 4)
        scale = self.const((1.0 + 0.1 * self.rng.standard_normal(c_out)).astype(np.float32), "bn_s")
        shift = self.const((0.1 * self.rng.standard_normal(c_out)).astype(np.float32), "bn_b")
        mean = self.const((0.1 * self.rng.standard_normal(c_out)).astype(np.float32), "bn_m")
        var = self.const(self.rng.uniform(0.5, 1.5, c_out).astype(np.float32), "bn_v")
        y = self.op("BatchNormalization", [y, scale, shift, mean, var], epsilon=1e-5)
        return self.op("Relu", [y]) if relu else y

    def layer_norm(self, x, d):
        g = self.const((1.0 + 0.1 * self.rng.standard_normal(d)).astype(np.float32), "ln_g")
        b = self.const((0.1 * self.rng.standard_normal(d)).astype(np.float32), "ln_b")
        return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-5)


def mlp784():
    b = Builder(1)
    h = b.linear_matmul("x", 784, 1024, True)
    h = b.linear_matmul(h, 1024, 1024, True)
    y = b.linear_matmul(h, 1024, 10, False)
    return b.model("mlp784", "x", [784], y, [10], 13), [784]


def lenet():
    b = Builder(2)
    h = b.op("Relu", [b.op("Conv", ["x", b.weight((6, 1, 5, 5), 25), b.bias(6)],
                           kernel_shape=[5, 5], pads=[2, 2, 2, 2])])
    h = b.op("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
    h = b.op("Relu", [b.op("Conv", [h, b.weight((16, 6, 5, 5), 150), b.bias(16)],
                           kernel_shape=[5, 5])])
    h = b.op("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
    h = b.op("Flatten", [h], axis=1)
    h = b.linear_gemm(h, 400, 120, True)
    h = b.linear_gemm(h, 120, 84, True)
    y = b.linear_gemm(h, 84, 10, False)
    return b.model("lenet", "x", [1, 28, 28], y, [10], 13), [1, 28, 28]


def resnet():
    b = Builder(3)
    h = b.conv_bn("x", 3, 32, 3, 2, True)  # 32x32x32
    c = 32
    for c_out, stride in ((32, 1), (64, 2), (128, 2)):
        y = b.conv_bn(h, c, c_out, 3, stride, True)
        y = b.conv_bn(y, c_out, c_out, 3, 1, False)
        short = h if (stride == 1 and c == c_out) else b.conv_bn(h, c, c_out, 1, stride, False)
        h = b.op("Relu", [b.op("Add", [y, short])])
        c = c_out
    h = b.op("Flatten", [b.op("GlobalAveragePool", [h])], axis=1)
    y = b.linear_gemm(h, c, 10, False)
    return b.model("resnet", "x", [3, 64, 64], y, [10], 13), [3, 64, 64]


def transformer():
    seq, d, heads, ffn = 64, 128, 4, 512
    hd = d // heads
    b = Builder(4)
    split = b.const(np.array([0, seq, heads, hd], np.int64), "shape")
    merge = b.const(np.array([0, seq, d], np.int64), "shape")

    def proj(x):
        return b.op("Add", [b.op("MatMul", [x, b.weight((d, d), d)]), b.bias(d)])

    def to_heads(x, perm):
        return b.op("Transpose", [b.op("Reshape", [x, split])], perm=perm)

    q = to_heads(proj("x"), [0, 2, 1, 3])  # N,h,seq,hd
    k = to_heads(proj("x"), [0, 2, 3, 1])  # N,h,hd,seq
    v = to_heads(proj("x"), [0, 2, 1, 3])
    s = b.op("Div", [b.op("MatMul", [q, k]), b.const(np.array(np.sqrt(hd), np.float32))])
    a = b.op("MatMul", [b.op("Softmax", [s], axis=-1), v])  # N,h,seq,hd
    a = b.op("Reshape", [b.op("Transpose", [a], perm=[0, 2, 1, 3]), merge])
    h = b.layer_norm(b.op("Add", ["x", proj(a)]), d)
    f = b.op("Add", [b.op("MatMul", [h, b.weight((d, ffn), d)]), b.bias(ffn)])
    # GELU as torch.onnx writes it before opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))
    e = b.op("Erf", [b.op("Div", [f, b.const(np.array(np.sqrt(2.0), np.float32))])])
    f = b.op("Mul", [b.op("Mul", [f, b.op("Add", [e, b.const(np.array(1.0, np.float32))])]),
                     b.const(np.array(0.5, np.float32))])
    f = b.op("Add", [b.op("MatMul", [f, b.weight((ffn, d), ffn)]), b.bias(d)])
    y = b.layer_norm(b.op("Add", [h, f]), d)
    return b.model("transformer", "x", [seq, d], y, [seq, d], 17), [seq, d]


def digits_inputs():
    from sklearn.datasets import load_digits
    return load_digits().data[:SAMPLES].astype(np.float32)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    lines = []
    shutil.copyfile(os.path.join(ROOT, "examples", "models", "digits", "1", "model.onnx"),
                    os.path.join(out, "digits.onnx"))
    digits_inputs().tofile(os.path.join(out, "digits.in.bin"))
    lines.append("digits 64")
    for i, make in enumerate((mlp784, lenet, resnet, transformer)):
        model, dims = make()
        name = model.graph.name
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(model.SerializeToString())
        x = np.random.RandomState(100 + i).standard_normal([SAMPLES] + dims).astype(np.float32)
        x.tofile(os.path.join(out, name + ".in.bin"))
        lines.append(" ".join([name] + [str(v) for v in dims]))
    with open(os.path.join(out, "models.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
