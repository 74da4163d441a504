"""A small, deterministic U-Net-shaped ONNX model for the CloudMask scoring tests.

It has the CloudMask model contract of docs/scoring.md: input `x` float32 [N, 9, 256, 256]
(refs S1-S6, bts S7-S9, normalised), output `y` float32 [N, 1, 256, 256] sigmoid
probabilities. Layers: Conv 3x3 (9 -> 8) + ReLU, MaxPool 2, Conv 3x3 (8 -> 8) + ReLU, Resize
x2 (nearest), Concat with the skip, Conv 3x3 (16 -> 8) + ReLU, Conv 1x1 (8 -> 1), Sigmoid.
The weights are seeded random values plus one deliberate path (cold S8 brightness
temperature -> cloud), so that the masks have both classes and depend on the inputs. It is
not trained and says nothing about the benchmark; it exercises the scoring pipeline.

    python tests/interop/cloudmask_test_model.py OUT.onnx [--channels 3]

`--channels` other than 9 writes a model with the wrong input shape (for the refusal test).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(channels: int = 9, seed: int = 7) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)

    def w(*shape: int, scale: float = 0.05) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w1, b1 = w(8, channels, 3, 3), np.zeros(8, np.float32)
    w2, b2 = w(8, 8, 3, 3), np.zeros(8, np.float32)
    w3, b3 = w(8, 16, 3, 3), np.zeros(8, np.float32)
    w4, b4 = w(1, 8, 1, 1), np.array([-2.0], np.float32)
    if channels > 7:
        w1[0, 7, 1, 1] += -3.0  # S8 (10.85 um) brightness temperature: cold -> positive
    w3[0, 0, 1, 1] += 2.0  # the skip connection carries it to the decoder
    w4[0, 0, 0, 0] += 3.0
    inits = [
        numpy_helper.from_array(a, n)
        for a, n in [
            (w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"),
            (w3, "w3"), (b3, "b3"), (w4, "w4"), (b4, "b4"),
            (np.array([1, 1, 2, 2], np.float32), "scales"),
        ]
    ]
    conv3 = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], **conv3),
        helper.make_node("Relu", ["c1"], ["e1"]),
        helper.make_node("MaxPool", ["e1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], **conv3),
        helper.make_node("Relu", ["c2"], ["e2"]),
        helper.make_node("Resize", ["e2", "", "scales"], ["u2"], mode="nearest"),
        helper.make_node("Concat", ["e1", "u2"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w3", "b3"], ["c3"], **conv3),
        helper.make_node("Relu", ["c3"], ["d3"]),
        helper.make_node("Conv", ["d3", "w4", "b4"], ["logit"], kernel_shape=[1, 1]),
        helper.make_node("Sigmoid", ["logit"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cloudmask-test-unet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, 256, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 256, 256])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="sciml-data tests",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--channels", type=int, default=9)
    args = ap.parse_args(argv)
    onnx.save(build(args.channels), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
