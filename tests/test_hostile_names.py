"""Names from a model reach generated C only inside comments, through one sanitizer
(``codegen.render.c_comment``): a model whose tensor names and file name hold comment ends, line
splices, trigraphs, preprocessor lines and control characters compiles (-Werror) to exactly the
object code of the same model with plain names."""

from __future__ import annotations

import dataclasses
import random
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

from edgekit.codegen import generate
from edgekit.codegen.render import c_comment
from edgekit.ir import Graph, read_tflite
from edgekit.target.toolchain import C_WARNINGS

SNAPSHOTS = ROOT / "tests" / "snapshots"

# what a hostile name is made of: each breaks out of a C comment, or did before the sanitizer
FRAGMENTS = ("*/", "/*", "*\\", "\\", "\\\n", "\n/", "\r\n", "??/", "??=", "??'", "?""?/\n", "#include <stdlib.h>",
             "__attribute__((constructor)) static void pwn(void) { system(\"id\"); }", "//", "\"", "'", "\x00",
             "\t", "\x1b[2J", "\u202e", "é", "*", "/", "?", "int tensor0[1] = {1};")


def hostile_name(rng: random.Random) -> str:
    parts = [rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 6))]
    return "".join(p + "".join(rng.choice("ab;/ *?") for _ in range(rng.randint(0, 3))) for p in parts)


def renamed(graph: Graph, rng: random.Random | None) -> Graph:
    """``graph`` with every tensor and the model named hostilely (``rng``) or plainly (None)."""
    def name(i: int) -> str:
        return hostile_name(rng) if rng else f"t{i}"

    tensors = tuple(dataclasses.replace(t, name=name(t.index)) for t in graph.tensors)
    return dataclasses.replace(graph, tensors=tensors, name=hostile_name(rng) if rng else "model")


def objects(graph: Graph, out: Path, source: str) -> dict[str, bytes]:
    """The generated model's own C files compiled with -Werror: object file name -> bytes."""
    gen = generate(graph, out, source=source)
    objs = {}
    for c in sorted(out.glob("*.c")):
        obj = out / (c.stem + ".o")
        subprocess.run(["gcc", *C_WARNINGS, "-O2", f"-I{out}", f"-I{out / 'ek'}", "-c", str(c),
                        "-o", str(obj)], check=True, capture_output=True, text=True)
        objs[obj.name] = obj.read_bytes()
    assert gen.sources, "nothing generated"
    return objs


@pytest.mark.parametrize("model", ["tiny_dense", "tiny_residual"])
@pytest.mark.parametrize("seed", range(4))
def test_hostile_names_compile_to_the_same_object_code(model, seed, tmp_path):
    graph = read_tflite(SNAPSHOTS / f"{model}.tflite")
    rng = random.Random(seed)
    plain = objects(renamed(graph, None), tmp_path / "plain", "model.tflite")
    hostile_graph = renamed(graph, rng)
    hostile = objects(hostile_graph, tmp_path / "hostile", hostile_name(rng))
    assert plain.keys() == hostile.keys() and len(plain) >= 2
    for name in plain:
        assert plain[name] == hostile[name], f"{name}: a name changed the compiled code"
    text = "".join(p.read_text() for p in (tmp_path / "hostile").glob("*.[ch]"))
    assert all(ord(ch) < 0x7F and (ch >= " " or ch in "\n\t") for ch in text)
    assert "\\\n" not in text


@pytest.mark.parametrize("text", ["a*/b", "/*/", "*\\\n/", "???/", "??/\n#define X", "x\r\ny", "é\u202e"])
def test_comment_text_cannot_end_the_comment(text):
    out = c_comment(text)
    assert "*/" not in out and "/*" not in out and "??" not in out
    assert "\\" not in out and "\n" not in out and all(" " <= ch < "\x7f" for ch in out)
