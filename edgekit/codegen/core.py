"""What the generated code runs on, as far as the lowerings care.

A lowering may choose a kernel variant, a weight layout and parameters by target: on a core
with the Arm DSP extension (Cortex-M4, M7, M33, M55) convolutions and fully connected layers
use the SIMD kernels in ``firmware/kernels/dsp/`` (dual 16-bit MACs, weights stored in the
order their inner loops read them); everywhere else (Cortex-M0+, M3, the host) the portable C
kernels. Both produce the same bits. The DSP kernels also build for the host, with a portable
C version of every DSP instruction they use, so the host tests can run them
(``Target("host-dsp", dsp=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: cores with the ARMv7E-M / ARMv8-M DSP extension (SMLAD, SXTB16, ...)
DSP_CPUS = frozenset({"cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"})


@dataclass(frozen=True)
class Target:
    name: str  # "host", or the core: "cortex-m4", ...
    dsp: bool = False  # use the DSP-extension kernels

    @property
    def kernel_dirs(self) -> tuple[str, ...]:
        """Folders under ``firmware/kernels`` (besides the portable kernels) the model needs."""
        return ("dsp",) if self.dsp else ()


HOST = Target("host")


def target_for_cpu(cpu: str) -> Target:
    """The target of a board's core (a board file's ``cpu``)."""
    return Target(cpu, dsp=cpu in DSP_CPUS)
