"""How far a kernel's output may overlap its input: the facts behind ``KernelCall.overlaps``.

A kernel family states its overlap in one function next to its lowering (``conv2d_overlap`` in
``ops/conv.py``, ...), documented in its C header; the planner uses the declaration and the
verifier checks it (``edgekit.plan.Overlap``: ``output_start <= input_start - lead``). The
geometry those functions share lives here.

Why a lead makes the overlap safe. Put the output ``delta = output_start - input_start`` bytes
from the input. A write to output byte ``j`` lands on input byte ``j + delta``; it is harmless
exactly when the kernel never reads that input byte again. For a kernel that walks output pixels
in order and, while it works on output pixel ``P``, only writes ``P``'s own bytes, it suffices
that every byte of ``P`` lands below the lowest input byte read from the moment ``P`` starts:
``delta + (p + 1) * out_c <= q_min(P) * in_c`` with ``q_min(P)`` the lowest input pixel any
output pixel at or after ``P`` reads. (Input bytes below ``q_min(P) * in_c`` are never read
again, so overwriting them is harmless; bytes at or above may be, so the output stays below
them.) Hence ``lead = max over P of ((p + 1) * out_c - q_min(P) * in_c)``, and any larger lead
is safe too, as the output only moves further below. It is conservative: it assumes pixel
``P``'s whole output may be written before any of its reads.

A kernel that declares an overlap must not mark its input and output pointers ``restrict``
(the C compiler would then be free to reorder its reads and writes).
"""

from __future__ import annotations


def _first_tap(o: int, stride: int, pad: int, k: int, dilation: int, size: int) -> int | None:
    """The lowest input row (or column) output row ``o`` reads, None if all its taps are padding."""
    for t in range(k):
        i = o * stride - pad + t * dilation
        if 0 <= i < size:
            return i
    return None


def sliding_window_lead(in_hwc: tuple[int, int, int], out_hwc: tuple[int, int, int],
                        stride: tuple[int, int], pad: tuple[int, int], kernel: tuple[int, int],
                        dilation: tuple[int, int] = (1, 1), batches: int = 1) -> int:
    """The lead (bytes) of a kernel that walks output pixels in (batch, y, x) order, writes only
    the current pixel's ``out_c`` bytes while at it, and reads for pixel (oy, ox) input rows
    ``oy*stride_h - pad_top + ky*dilation_h`` and columns ``ox*stride_w - pad_left +
    kx*dilation_w`` (``ky < kernel_h``, ``kx < kernel_w``) inside the image, any channels.
    Returns 0 when the output may even start where the input starts."""
    ih, iw, ic = in_hwc
    oh, ow, oc = out_hwc
    rows = [_first_tap(y, stride[0], pad[0], kernel[0], dilation[0], ih) for y in range(oh)]
    cols = [_first_tap(x, stride[1], pad[1], kernel[1], dilation[1], iw) for x in range(ow)]
    lead = 0
    q_min = None  # lowest input pixel read by any output pixel at or after the current one
    for p in reversed(range(batches * oh * ow)):
        b, rest = divmod(p, oh * ow)
        y, x = divmod(rest, ow)
        if rows[y] is not None and cols[x] is not None:
            q = (b * ih + rows[y]) * iw + cols[x]
            q_min = q if q_min is None else min(q_min, q)
        if q_min is not None:
            lead = max(lead, (p + 1) * oc - q_min * ic)
    return lead


def events_lead(events: list[tuple[bool, int, int]]) -> int:
    """The lead of a kernel described by its reads and writes in the order it makes them:
    ``(is_write, start, end)`` byte ranges of the input (reads) and of the output (writes). A write
    must land below the lowest input byte read after it, so the lead is the largest
    ``end - lowest later read`` over the writes (0 when nothing is read after any write)."""
    lead, low = 0, None  # low: the lowest input byte read after the current event
    for is_write, start, end in reversed(events):
        if is_write and low is not None:
            lead = max(lead, end - low)
        elif not is_write:
            low = start if low is None else min(low, start)
    return lead
