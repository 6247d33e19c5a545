"""What the generated code runs on, and the generation options that go with it.

A lowering may choose a kernel variant, a weight layout and parameters by target (the kernel
tables, ``edgekit.codegen.lowering.Candidate``): on a core with the Arm DSP extension
(Cortex-M4, M7, M33, M55) convolutions, depthwise convolutions, fully connected layers and
ADD use the SIMD kernels in ``firmware/kernels/dsp/`` (dual 16-bit MACs, weights stored in the
order their inner loops read them); everywhere else (Cortex-M0+, M3, the host) the portable C
kernels. Both produce the same bits. The DSP kernels also build for the host, with a portable
C version of every DSP instruction they use, so the host tests can run them
(``Target("host-dsp", dsp=True)``).

The options a user can change are fields here, passed down with the target: nothing in the
code generator reads global state.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``Target.ram_weights``: every constant array in RAM
RAM_WEIGHTS_ALL = -1

#: cores with the ARMv7E-M / ARMv8-M DSP extension (SMLAD, SXTB16, ...)
DSP_CPUS = frozenset({"cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"})

#: Winograd F(2x2, 3x3) stores a 3x3 filter as 32 bytes per channel pair instead of 9, so it is
#: taken only for output maps of at least this many pixels (16x16): there it saves >= 55
#: multiplications per extra flash byte.
WINOGRAD_MIN_PIXELS = 256


@dataclass(frozen=True)
class Target:
    name: str  # "host", or the core: "cortex-m4", ...
    dsp: bool = False  # use the DSP-extension kernels
    #: Winograd for 3x3 stride-1 convolutions on maps of at least this many output pixels
    #: (DSP cores); 0: every convolution it can take; None: never (``--no-winograd``)
    winograd_min_pixels: int | None = WINOGRAD_MIN_PIXELS
    #: Winograd's blocks of 2x2 tiles (ek_conv3x3_wino_dsp.h): 2 halves its scratch, 4 reads its
    #: weights half as often (where they are in flash behind wait states: ``target_for_cpu``)
    winograd_block_tiles: int = 2
    #: palettized / sparse weight storage when it saves flash; False: dense int8 everywhere
    weight_packing: bool = True
    #: operators (indices in the planned order) to lower to a kernel variant without scratch where
    #: one exists: chosen by ``codegen.leaner`` for the operators whose scratch sets the arena
    lean_ops: frozenset[int] = frozenset()
    #: False: never trade cycles for arena (keep every kernel with scratch)
    lean_kernels: bool = True
    #: the weights sit in a flash with wait states (the board's memory system, ``target_for_cpu``):
    #: no lean kernel that reads them more often (ek_depthwise_dsp_s8 reads a 3x3 depthwise layer's
    #: weights once per output pixel, the rows kernel once per row)
    slow_flash: bool = False
    #: run chains of operators band by band where that lowers the arena within the cycle budget
    #: (``codegen/stream.py``); False: whole tensors only (``--no-stream``)
    stream: bool = True
    #: operators (indices in the planned order) that run in streamed segments, a few rows a call:
    #: a kernel whose scratch pays only over many rows may take a smaller one there
    banded_ops: frozenset[int] = frozenset()
    #: 3x3 depthwise operators of streamed segments that run ek_depthwise_dsp_s8 rather than the
    #: rows kernel, which would widen their windows' rows again for every band and cost more on the
    #: segment's bands (``stream.direct_dw_ops``)
    direct_dw_ops: frozenset[int] = frozenset()
    #: the most estimated extra work streamed segments may add, as a fraction of the model's
    #: (``--stream-cycles-budget``)
    stream_cycles_budget: float = 0.10
    #: stream, or take a lean kernel (``codegen.leaner``), only where the arena falls by at least the
    #: fraction the work grows (``stream.worth_it``); False under an arena limit
    #: (``codegen.fit_arena``): the limit decides
    stream_if_worth_it: bool = True
    #: the model's input is pulled row by row from the caller (``P_run_rows``) into a streamed
    #: segment instead of sitting whole in the arena, where its readers can stream (``--pull-input``)
    pull_input: bool = False
    #: bytes of constant arrays copied to RAM at start-up, the most-read first
    #: (``codegen/placement.py``, ``--ram-weights``); 0: every array stays in flash; RAM_WEIGHTS_ALL: all
    ram_weights: int = 0
    #: copy the constant arrays a kernel reads many times per inference into its scratch before it
    #: runs, while the arena grows by at most this many bytes (``codegen.stage``, ``codegen/placement.py``,
    #: ``--stage-weights``); 0: none; RAM_WEIGHTS_ALL: no limit
    stage_weights: int = 0
    #: link the kernels' code (the hot ones, compiled for speed) into RAM, copied there at start-up:
    #: on a board whose flash has wait states and whose core fetches from a RAM without them
    #: (a ``code_ram`` region, nucleo-l4r5zi's SRAM2), instruction fetches then never wait
    #: (``--no-ram-kernels``: they stay in flash). A build matter: the generated C is the same.
    ram_kernels: bool = False

    @property
    def kernel_dirs(self) -> tuple[str, ...]:
        """Folders under ``firmware/kernels`` (besides the portable kernels) the model needs."""
        return ("dsp",) if self.dsp else ()


HOST = Target("host")


#: ``Target.stage_weights`` on a board whose flash has wait states (``Board.target``): staged copies may
#: grow the arena by this much (kws: 2.7 KB, vww: 1.5 KB, resnet: 7.2 KB on nucleo-l4r5zi)
STAGE_WEIGHTS_WAIT_STATES = 8192


def target_for_cpu(cpu: str, *, winograd: bool = True, stream: bool = True, flash_wait_states: int = 0,
                   code_ram: bool = False) -> Target:
    """The target of a board's core (a board file's ``cpu``); ``winograd=False`` keeps 3x3
    convolutions direct (``--no-winograd``); ``stream=False`` keeps whole tensors (``--no-stream``);
    a flash with wait states (the board's memory system) stages the most-read weights
    (STAGE_WEIGHTS_WAIT_STATES), computes Winograd's tiles four at a time (its weights read half as
    often), takes no lean kernel that reads weights more often (``Target.slow_flash``) and, on a board
    with a code RAM, runs the kernels from it."""
    slow_flash = flash_wait_states > 0
    return Target(cpu, dsp=cpu in DSP_CPUS, winograd_min_pixels=WINOGRAD_MIN_PIXELS if winograd else None,
                  stream=stream, stage_weights=STAGE_WEIGHTS_WAIT_STATES if slow_flash else 0,
                  ram_kernels=slow_flash and code_ram, winograd_block_tiles=4 if slow_flash else 2,
                  slow_flash=slow_flash)
