"""Jinja2 environment for the C templates in ``templates/``: StrictUndefined, C literal filters."""

from __future__ import annotations

import math

import jinja2
import numpy as np

from ..errors import UnsupportedModelError
from ..files import TEMPLATES
from .lowering import CArray, CStruct


def array_symbol(prefix: str, array: CArray) -> str:
    """The C name of a constant array of the model generated with ``prefix``: prefixed, so that
    several models link into one program."""
    return f"{prefix}_{array.name}"


def c_literal(value, prefix: str = "") -> str:
    """A Python value as a C initializer (constant arrays by their name in model ``prefix``)."""
    if isinstance(value, CArray):
        return array_symbol(prefix, value) if prefix else value.name
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        v = int(value)
        if v == -(2**31):
            return "INT32_MIN"
        return str(v)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isinf(f) or math.isnan(f):
            raise UnsupportedModelError(f"a constant of the model is not a finite number ({f})")
        return f"{f!r}f"
    if isinstance(value, CStruct):
        return "{" + ", ".join(f".{n} = {c_literal(v, prefix)}" for n, v in value.c_fields()) + "}"
    if isinstance(value, (tuple, list)):
        return "{" + ", ".join(c_literal(v, prefix) for v in value) + "}"
    if isinstance(value, str):
        return value
    raise TypeError(f"no C literal for {type(value).__name__}")


#: characters a C string literal keeps as they are; every other byte of the UTF-8 text becomes an
#: octal escape (three digits, so a following digit cannot extend it); '?' too, against trigraphs
STRING_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"\\", '"', "?"}


def c_string(text: str) -> str:
    """A C string literal holding ``text`` (UTF-8) byte for byte, whatever it contains."""
    return '"' + "".join(chr(b) if chr(b) in STRING_CHARS else f"\\{b:03o}" for b in str(text).encode()) + '"'


def c_array_body(values: np.ndarray, per_line: int = 16, indent: str = "    ") -> str:
    """The values of a constant array, ``per_line`` to a line."""
    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind == "f":
        if not np.isfinite(flat).all():
            raise UnsupportedModelError(f"a constant array of the model holds {flat[~np.isfinite(flat)][0]}")
        items = [f"{float(v)!r}f" for v in flat]
    else:
        items = [str(int(v)) if int(v) != -(2**31) else "INT32_MIN" for v in flat.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n".join(indent + ln for ln in lines)


#: characters a C comment keeps as they are: printable ASCII but the backslash (a line splice); the
#: rest (control characters, newlines, anything beyond ASCII) becomes '_'
COMMENT_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"\\"}
#: sequences that would end or open a comment, or form a trigraph (``??/`` is a backslash in C99)
COMMENT_BREAKS = (("*/", "*_"), ("/*", "_*"), ("??", "?_"))


def c_comment(text: str) -> str:
    """Text safe inside a C block comment: every name from a model (tensors, the model file) reaches
    generated C through here, and whatever it holds stays inside the comment."""
    out = "".join(ch if ch in COMMENT_CHARS else "_" for ch in str(text))
    while any(seq in out for seq, _ in COMMENT_BREAKS):
        for seq, safe in COMMENT_BREAKS:
            out = out.replace(seq, safe)
    return out


def environment(subdir: str = "") -> jinja2.Environment:
    """The templates in ``templates/`` (or its ``subdir``), with the C filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / subdir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["c"] = jinja2.pass_context(lambda ctx, value: c_literal(value, ctx.get("prefix", "")))
    env.filters["c_array_body"] = c_array_body
    env.filters["cc"] = c_comment
    env.filters["cstr"] = c_string
    return env
