"""edgekit.compress.zoo: every architecture builds with width / resolution / depth knobs, converts to
int8 with operators edgekit runs, and validates bit-exact with tflite-micro on the host."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.compress import zoo
from edgekit.ir import parse_tflite

CASES = [
    # (family, resolution, width, depth, extra)
    ("mobilenet_v1", 16, 0.25, 0.5, {}),
    ("mobilenet_v2", 16, 0.35, 0.34, {}),
    ("shufflenet_v2", 32, 0.25, 0.25, {"groups": 2}),
    ("efficientnet_lite", 16, 0.25, 0.34, {}),
    ("ds_cnn", (20, 10), 0.5, 0.5, {}),
]


def _int8(model, seed=0):
    from edgekit.compress import measure as deploy
    from edgekit.compress.data import Dataset

    rng = np.random.default_rng(seed)
    shape = tuple(model.inputs[0].shape[1:])
    x = rng.random((64, *shape)).astype("float32")
    ds = Dataset("random", x, np.zeros(64, int), x[:8], np.zeros(8, int), 10)
    deploy.refresh_batchnorm(model, x, passes=4, batch_size=16)
    return deploy.to_int8(model, ds, calib_samples=16)


@pytest.mark.parametrize("family,res,width,depth,extra", CASES, ids=[c[0] for c in CASES])
def test_zoo_converts_and_runs_bit_exact(family, res, width, depth, extra, tmp_path):
    from edgekit.compress import measure as deploy

    m = zoo.build(family, resolution=res, width=width, depth=depth, seed=1, **extra)
    assert m.layers[-1].name == "probs" and m.get_layer("logits").units == 10
    tfl = _int8(m)
    g = parse_tflite(tfl)
    kinds = {op.type_name for op in g.ops}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= kinds
    if family == "shufflenet_v2":
        assert {"TRANSPOSE", "CONCATENATION", "STRIDED_SLICE"} <= kinds
        grouped = [op for op in g.ops if op.type_name == "CONV_2D"
                   and g.tensors[op.inputs[1]].shape[3] < g.tensors[op.inputs[0]].shape[3]]
        assert grouped, "groups=2 must give grouped CONV_2D operators"
    if family in ("mobilenet_v2", "efficientnet_lite"):
        assert "ADD" in kinds
    report = deploy.validate_bit_exact(tfl, samples=3, sanitize=True)
    assert report.tflm_available, report.tflm_error
    assert report.passed, [o.to_json() for o in report.outputs]


@pytest.mark.parametrize("family", list(zoo.FAMILIES))
def test_knobs_scale_the_network(family):
    res = (32, 32) if family != "ds_cnn" else (32, 16)
    small = zoo.build(family, resolution=res, width=0.25, depth=0.5)
    wide = zoo.build(family, resolution=res, width=0.5, depth=0.5)
    deep = zoo.build(family, resolution=res, width=0.25, depth=1.0)
    big_in = zoo.build(family, resolution=(res[0] * 2, res[1] * 2), width=0.25, depth=0.5)
    assert wide.count_params() > small.count_params()
    assert deep.count_params() > small.count_params()
    assert len(deep.layers) > len(small.layers)
    assert big_in.inputs[0].shape[1:3] == (res[0] * 2, res[1] * 2)
    assert big_in.count_params() == small.count_params()  # resolution changes MACs, not weights


def test_compound_scaling():
    base = zoo.compound(0)
    up = zoo.compound(2)
    assert up["resolution"] > base["resolution"] and up["width"] > base["width"] and up["depth"] > base["depth"]
    # EfficientNet's constraint: alpha * beta^2 * gamma^2 ~ 2 (FLOPs double per phi step)
    assert abs(zoo.ALPHA * zoo.BETA ** 2 * zoo.GAMMA ** 2 - 2) < 0.1
    m = zoo.efficientnet_lite_phi(1)
    assert m.inputs[0].shape[1] == zoo.compound(1)["resolution"]


def test_channel_shuffle_interleaves():
    import keras

    inp = keras.Input((1, 1, 6))
    m = keras.Model(inp, zoo.channel_shuffle(inp, 2, "s"))
    x = np.arange(6, dtype="float32").reshape(1, 1, 1, 6)
    np.testing.assert_array_equal(m.predict(x, verbose=0).reshape(-1), [0, 3, 1, 4, 2, 5])


@pytest.mark.parametrize("family", ["shufflenet_v2", "mobilenet_v2"])
def test_save_and_load(family, tmp_path):
    import keras

    m = zoo.build(family, resolution=32, width=0.25, depth=0.25, seed=0)
    m.save(tmp_path / "m.keras")
    back = keras.models.load_model(tmp_path / "m.keras", compile=False)
    x = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(back.predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-6)


def test_unknown_family():
    from edgekit.errors import EdgekitError

    with pytest.raises(EdgekitError, match="no zoo network"):
        zoo.build("resnet9000")
