import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the MLPerf Tiny models, stored with the tests (tests/models/README.md: source and license)
MLPERF_MODELS = ROOT / "tests" / "models"
REAL_MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load_example(name: str):
    """``examples/<name>.py`` as a module (registered in sys.modules: its dataclasses look
    themselves up there)."""
    key = f"edgekit_example_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "examples" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def pytest_addoption(parser):
    parser.addoption("--board", default=None, help="real board name for hardware tests")
    parser.addoption("--port", default=None, help="serial port URL of the real board")


@pytest.fixture(scope="session")
def runtime_lib(tmp_path_factory):
    """The runtime kernels compiled once per session (host, ASan+UBSan)."""
    from edgekit.target.host import build_runtime_lib

    return build_runtime_lib(tmp_path_factory.mktemp("runtime"), sanitize=True, opt="-O1")


@pytest.fixture(scope="session")
def mlperf_models():
    return MLPERF_MODELS
