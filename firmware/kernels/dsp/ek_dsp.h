/* ek_dsp.h -- the DSP-extension operations the edgekit DSP kernels use (Cortex-M4/M7/M33),
 * and a portable C version of each for cores without the extension and for the host.
 *
 * On a core with the DSP extension (__ARM_FEATURE_DSP) these are ACLE intrinsics (arm_acle.h)
 * and single instructions; elsewhere they are plain C with the same results, so the host
 * tests (with sanitizers) run exactly the C the microcontroller runs. Which of the kernels'
 * assembly loops are used is EK_DSP_ASM's choice (below).
 *
 *   ek_sxtb16(x)        bytes 0 and 2 of x, sign-extended to two halfwords (SXTB16)
 *   ek_sxtb16_ror8(x)   bytes 1 and 3 (SXTB16 x, ROR #8; ACLE has no rotated form: one
 *                       instruction of inline assembly)
 *   ek_sxtab16(a, x)    a + ek_sxtb16(x), halfword-wise, each half wrapping alone (SXTAB16)
 *   ek_sxtab16_ror8(a, x)  a + ek_sxtb16_ror8(x), the same (SXTAB16 x, ROR #8)
 *   ek_sadd16(a, b)     halfword-wise a + b (SADD16)
 *   ek_max8(a, b)       byte-wise signed maximum (SSUB8 sets the GE flags, SEL picks: one asm block,
 *                       so nothing can come between the two); ek_min8(a, b) the minimum
 *   ek_ssub16(a, b)     halfword-wise a - b (SSUB16)
 *   ek_smlad(a, b, acc) acc + a.lo*b.lo + a.hi*b.hi (SMLAD)
 *   ek_smmlar(a, b, c)  c + ((a*b + 2^31) >> 32) (SMMLAR: rounded high word, accumulated)
 *   ek_ssat8(x)         x saturated to [-128, 127] (SSAT #8)
 *   ek_read32/ek_write32  a 32-bit word at any byte address (LDR/STR; memcpy elsewhere)
 *
 * The kernels' assembly loops put `.p2align 2` before each label a loop branches back to (or
 * enters by BX): on the M4 a branch to a 32-bit instruction at a halfword address refills the
 * pipeline a cycle later (TRM 3.3.1), and without the directive that cycle depended on the C the
 * compiler placed before the loop. A fall-through into such a label may run one NOP.
 */
#ifndef EK_DSP_H
#define EK_DSP_H

#include <stdint.h>
#include <string.h>

#include "ek_common.h"

/* Build switches (the code generator writes ek_config.h next to the kernels, for one model's
 * calls; without it every switch takes the value that serves every call):
 *
 *   EK_REQUANT_BELOW_ZERO_POINT  0: no ek_conv2d_dsp_s8, ek_depthwise_rows_dsp_s8 or
 *       ek_depthwise_dsp_s8 call of this build keeps an output below its output zero point (each
 *       clamps at act_min >= the zero point, as a fused ReLU does), so those kernels leave out
 *       ek_requant2's sign term, which only changes values that the clamp then takes to act_min
 *       (ek_requant2_clamped).
 *   EK_FC_PLAIN_WEIGHTS  0: every ek_fully_connected_dsp_s8 and ek_fully_connected_lean_dsp_s8
 *       call of this build has its weights in the paired layout (paired 1, ek_gemm4_dsp.h), so
 *       those kernels leave out their loops for the plain one.
 *   EK_WINO_BLOCKS_2, EK_WINO_BLOCKS_4  0: no ek_conv3x3_wino_dsp_s8 call of this build computes
 *       blocks of that many tiles (block_tiles), and the kernel leaves out that block size's code. */
#if defined(__has_include)
#if __has_include("ek_config.h")
#include "ek_config.h"
#endif
#endif
#ifndef EK_REQUANT_BELOW_ZERO_POINT
#define EK_REQUANT_BELOW_ZERO_POINT 1
#endif
#ifndef EK_FC_PLAIN_WEIGHTS
#define EK_FC_PLAIN_WEIGHTS 1
#endif
#ifndef EK_WINO_BLOCKS_2
#define EK_WINO_BLOCKS_2 1
#endif
#ifndef EK_WINO_BLOCKS_4
#define EK_WINO_BLOCKS_4 1
#endif

/* Code that runs rarely (activation ranges narrower than int8, borders): optimized for size. */
#if defined(__GNUC__)
#define EK_COLD __attribute__((cold, noinline))
#else
#define EK_COLD
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define EK_HAVE_DSP 1
#else
#define EK_HAVE_DSP 0
#endif

/* EK_DSP_ASM 1: the kernels' inner loops written in inline assembly (conv2d, winograd 3x3,
 * depthwise rows, fully connected and transpose conv (ek_gemm4_dsp.h), batch matmul); 0: their
 * C twins, the same computation in C (the one the host tests run), with the instructions of this
 * file as intrinsics. The assembly is used on a core with the DSP extension in an optimising
 * build only:
 *   -O0  never (no __OPTIMIZE__): the loops need all fourteen allocatable registers, which gcc
 *        does not find without optimisation ("'asm' operand has impossible constraints"), and
 *        a debugger single-steps the C twins line by line. No define needed.
 *   -Og  gcc defines __OPTIMIZE__ as at -O1 (no macro tells them apart), so a debug build at
 *        -Og passes -DEK_DSP_NO_ASM to get the C twins; edgekit's build does for a board whose
 *        opt is -Og. Without it the assembly is used (it compiles at -Og too).
 *   -O1 and above (-Os, -O2, -O3, -Oz): the assembly, unless EK_DSP_NO_ASM is defined. */
#if EK_HAVE_DSP && defined(__OPTIMIZE__) && !defined(EK_DSP_NO_ASM)
#define EK_DSP_ASM 1
#else
#define EK_DSP_ASM 0
#endif

EK_INLINE uint32_t ek_read32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

EK_INLINE void ek_write32(void *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

EK_INLINE uint32_t ek_pack16(int32_t lo, int32_t hi)
{
    return ((uint32_t)hi << 16) | ((uint32_t)lo & 0xFFFFu);
}

EK_INLINE int32_t ek_lo16(uint32_t v)
{
    return (int32_t)(int16_t)(uint16_t)(v & 0xFFFFu);
}

EK_INLINE int32_t ek_hi16(uint32_t v)
{
    return (int32_t)(int16_t)(uint16_t)(v >> 16);
}

#if EK_HAVE_DSP

EK_INLINE uint32_t ek_sxtb16(uint32_t x)
{
    return __sxtb16(x);
}

EK_INLINE uint32_t ek_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

EK_INLINE uint32_t ek_sxtab16(uint32_t a, uint32_t x)
{
    return __sxtab16(a, x);
}

EK_INLINE uint32_t ek_sxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

EK_INLINE uint32_t ek_sadd16(uint32_t a, uint32_t b)
{
    return __sadd16(a, b);
}

EK_INLINE uint32_t ek_ssub16(uint32_t a, uint32_t b)
{
    return __ssub16(a, b);
}

EK_INLINE int32_t ek_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad(a, b, acc);
}

EK_INLINE int32_t ek_smmlar(int32_t a, int32_t b, int32_t c)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}

/* acc + lo(a) * lo(b) + hi(a) * hi(b), 64-bit (SMLALD: exact, no wrap in any int64 sum of them) */
EK_INLINE int64_t ek_smlald(uint32_t a, uint32_t b, int64_t acc)
{
    return __smlald(a, b, acc);
}

/* (a.lo, b.lo) and (a.hi, b.hi) as halfwords of one word: PKHBT a, b, LSL #16 and PKHTB b, a, ASR #16 */
EK_INLINE uint32_t ek_pack_lo(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

EK_INLINE uint32_t ek_pack_hi(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
}

EK_INLINE uint32_t ek_max8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

EK_INLINE uint32_t ek_min8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

#define ek_ssat8(x) __ssat((x), 8)

#else /* portable C */

EK_INLINE uint32_t ek_sxtb16(uint32_t x)
{
    return ek_pack16((int8_t)(uint8_t)(x & 0xFFu), (int8_t)(uint8_t)((x >> 16) & 0xFFu));
}

EK_INLINE uint32_t ek_sxtb16_ror8(uint32_t x)
{
    return ek_pack16((int8_t)(uint8_t)((x >> 8) & 0xFFu), (int8_t)(uint8_t)(x >> 24));
}

EK_INLINE uint32_t ek_sadd16(uint32_t a, uint32_t b)
{
    return ek_pack16(ek_lo16(a) + ek_lo16(b), ek_hi16(a) + ek_hi16(b));
}

EK_INLINE uint32_t ek_sxtab16(uint32_t a, uint32_t x)
{
    return ek_sadd16(a, ek_sxtb16(x));
}

EK_INLINE uint32_t ek_sxtab16_ror8(uint32_t a, uint32_t x)
{
    return ek_sadd16(a, ek_sxtb16_ror8(x));
}

EK_INLINE uint32_t ek_ssub16(uint32_t a, uint32_t b)
{
    return ek_pack16(ek_lo16(a) - ek_lo16(b), ek_hi16(a) - ek_hi16(b));
}

EK_INLINE int32_t ek_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    /* the two products and the sum wrap modulo 2^32 like the instruction */
    const uint32_t s = (uint32_t)(ek_lo16(a) * ek_lo16(b)) + (uint32_t)(ek_hi16(a) * ek_hi16(b));
    return (int32_t)(s + (uint32_t)acc);
}

EK_INLINE int32_t ek_smmlar(int32_t a, int32_t b, int32_t c)
{
    /* floor((a*b + 2^31) / 2^32) + c; >> of a negative int64 is arithmetic under gcc and clang */
    const int64_t p = (int64_t)a * (int64_t)b + ((int64_t)1 << 31);
    return (int32_t)((uint32_t)(int32_t)(p >> 32) + (uint32_t)c);
}

EK_INLINE int64_t ek_smlald(uint32_t a, uint32_t b, int64_t acc)
{
    return acc + (int64_t)(ek_lo16(a) * ek_lo16(b)) + (int64_t)(ek_hi16(a) * ek_hi16(b));
}

EK_INLINE uint32_t ek_pack_lo(uint32_t a, uint32_t b)
{
    return (a & 0xFFFFu) | (b << 16);
}

EK_INLINE uint32_t ek_pack_hi(uint32_t a, uint32_t b)
{
    return (a >> 16) | (b & 0xFFFF0000u);
}

EK_INLINE int32_t ek_ssat8(int32_t x)
{
    return x < -128 ? -128 : (x > 127 ? 127 : x);
}

/* Byte-wise: where a >= b (signed) the byte of `ge`, else the byte of `lt` (SSUB8 a, b; SEL ge, lt). */
EK_INLINE uint32_t ek_sel8(uint32_t a, uint32_t b, uint32_t ge, uint32_t lt)
{
    uint32_t r = 0;
    for (int32_t i = 0; i < 32; i += 8) {
        const int8_t x = (int8_t)(uint8_t)(a >> i), y = (int8_t)(uint8_t)(b >> i);
        r |= ((x >= y ? ge : lt) >> i & 0xFFu) << i;
    }
    return r;
}

EK_INLINE uint32_t ek_max8(uint32_t a, uint32_t b)
{
    return ek_sel8(a, b, a, b);
}

EK_INLINE uint32_t ek_min8(uint32_t a, uint32_t b)
{
    return ek_sel8(a, b, b, a);
}

#endif

/* Requantization of a doubled accumulator (2 * acc), exact with TFLite's
 * MultiplyByQuantizedMultiplier + output offset when the generator has checked that
 *   - the channel's shift is <= -1 (right = -shift >= 1) or its multiplier is 0,
 *   - |2 * acc| < 2^31 for every reachable input, and c + the rounded product fits int32.
 * Then SaturatingRoundingDoublingHighMul(acc, M) == (2*acc*M + 2^31) >> 32 (it rounds half up
 * for either sign), RoundingDivideByPOT(t, right) == (t - [t < 0] + 2^(right-1)) >> right,
 * [t < 0] may use the sign of acc (t == 0 rounds to 0 either way), and the output offset
 * folds into c = 2^(right-1) + (output_offset << right). */
EK_INLINE int32_t ek_requant2(int32_t acc2, int32_t m, int32_t c, int32_t right)
{
    const int32_t t = ek_smmlar(acc2, m, c) + (acc2 >> 31);
    return t >> right;
}

/* ek_requant2 for the calls of ek_conv2d_dsp_s8 and the depthwise DSP kernels, without the sign
 * term unless EK_REQUANT_BELOW_ZERO_POINT. Exact for an output clamped at act_min >= the output
 * offset: for acc2 < 0 (m >= 0) the rounded product is <= 0, so (t + [sign term]) >> right <=
 * (2^(right-1) + offset * 2^right) >> right = offset with or without the term, and the clamp
 * makes either act_min; for acc2 >= 0 the term is 0. */
EK_INLINE int32_t ek_requant2_clamped(int32_t acc2, int32_t m, int32_t c, int32_t right)
{
#if EK_REQUANT_BELOW_ZERO_POINT
    return ek_requant2(acc2, m, c, right);
#else
    return ek_smmlar(acc2, m, c) >> right;
#endif
}

#endif /* EK_DSP_H */
