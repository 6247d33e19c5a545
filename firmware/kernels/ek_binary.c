#include "ek_binary.h"

#include "ek_broadcast.h"
#include "ek_common.h"

/* Both inputs on the common scale (twice the larger input scale, times 2^left_shift). */
EK_INLINE int32_t add_scaled(const ek_add_params *p, int32_t x, int32_t offset,
                             int32_t multiplier, int32_t shift)
{
    return ek_requantize((x + offset) * (1 << p->left_shift), multiplier, shift);
}

EK_INLINE int32_t add_output(const ek_add_params *p, int32_t raw)
{
    const int32_t out = ek_requantize(raw, p->output_multiplier, p->output_shift) + p->output_offset;
    return ek_clamp_i32(out, p->act_min, p->act_max);
}

/* ADD (sign 1) or SUB (sign -1) of n elements of `size` bytes. */
EK_INLINE void add_sub_row(const ek_add_params *p, const void *a, int32_t sa, const void *b, int32_t sb,
                           void *out, int32_t n, int32_t size, int32_t sign)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = add_scaled(p, ek_load(a, i * sa, size), p->input1_offset, p->input1_multiplier, p->input1_shift);
        const int32_t y = add_scaled(p, ek_load(b, i * sb, size), p->input2_offset, p->input2_multiplier, p->input2_shift);
        ek_store(out, i, add_output(p, sign > 0 ? x + y : x - y), size);
    }
}

EK_INLINE void mul_elements(const ek_mul_params *p, const void *a, int32_t sa, const void *b, int32_t sb,
                            void *out, int32_t n, int32_t size)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t prod = (ek_load(a, i * sa, size) + p->input1_offset) * (ek_load(b, i * sb, size) + p->input2_offset);
        const int32_t y = ek_requantize(prod, p->output_multiplier, p->output_shift) + p->output_offset;
        ek_store(out, i, ek_clamp_i32(y, p->act_min, p->act_max), size);
    }
}

static void add_row(const void *p, const void *a, int32_t sa, const void *b, int32_t sb, void *out, int32_t n)
{
    add_sub_row((const ek_add_params *)p, a, sa, b, sb, out, n, 1, 1);
}

static void sub_row(const void *p, const void *a, int32_t sa, const void *b, int32_t sb, void *out, int32_t n)
{
    add_sub_row((const ek_add_params *)p, a, sa, b, sb, out, n, 1, -1);
}

static void mul_row(const void *p, const void *a, int32_t sa, const void *b, int32_t sb, void *out, int32_t n)
{
    mul_elements((const ek_mul_params *)p, a, sa, b, sb, out, n, 1);
}

static void add_row_s16(const void *p, const void *a, int32_t sa, const void *b, int32_t sb, void *out, int32_t n)
{
    add_sub_row((const ek_add_params *)p, a, sa, b, sb, out, n, 2, 1);
}

static void sub_row_s16(const void *p, const void *a, int32_t sa, const void *b, int32_t sb, void *out, int32_t n)
{
    add_sub_row((const ek_add_params *)p, a, sa, b, sb, out, n, 2, -1);
}

static void mul_row_s16(const void *p, const void *a, int32_t sa, const void *b, int32_t sb, void *out, int32_t n)
{
    mul_elements((const ek_mul_params *)p, a, sa, b, sb, out, n, 2);
}

/* On a host (not an Arm microcontroller, where 2 KB of stack is dear) a large ADD or SUB
 * rescales each input through a table of its 256 values, computed once per call: the same
 * integers as add_scaled() per element, a third of the requantizations. */
#if !defined(__arm__) && !defined(__thumb__)
#define EK_ADD_TABLE_MIN 1024
static void add_by_tables(const ek_add_params *p, const int8_t *a, const int8_t *b, int8_t *out, int32_t sign)
{
    int32_t t1[256], t2[256];
    for (int32_t v = -128; v < 128; ++v) {
        t1[v + 128] = add_scaled(p, v, p->input1_offset, p->input1_multiplier, p->input1_shift);
        t2[v + 128] = sign * add_scaled(p, v, p->input2_offset, p->input2_multiplier, p->input2_shift);
    }
    for (int32_t i = 0; i < p->size; ++i) {
        out[i] = (int8_t)add_output(p, t1[a[i] + 128] + t2[b[i] + 128]);
    }
}
#else
#define EK_ADD_TABLE_MIN INT32_MAX
#define add_by_tables(p, a, b, out, sign) ((void)0)
#endif

void ek_add_s8(const ek_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!p->broadcast && p->size >= EK_ADD_TABLE_MIN) {
        add_by_tables(p, input1, input2, output, 1);
    } else if (!p->broadcast) {
        add_row(p, input1, 1, input2, 1, output, p->size);
    } else {
        ek_broadcast_walk(p->dims, p->in1_strides, p->in2_strides, input1, input2, output, 1, add_row, p);
    }
}

void ek_sub_s8(const ek_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!p->broadcast && p->size >= EK_ADD_TABLE_MIN) {
        add_by_tables(p, input1, input2, output, -1);
    } else if (!p->broadcast) {
        sub_row(p, input1, 1, input2, 1, output, p->size);
    } else {
        ek_broadcast_walk(p->dims, p->in1_strides, p->in2_strides, input1, input2, output, 1, sub_row, p);
    }
}

void ek_mul_s8(const ek_mul_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    if (!p->broadcast) {
        mul_row(p, input1, 1, input2, 1, output, p->size);
    } else {
        ek_broadcast_walk(p->dims, p->in1_strides, p->in2_strides, input1, input2, output, 1, mul_row, p);
    }
}

/* The int16 variants (16x8): a flat loop or the broadcast walk, no tables. */
static void binary_s16(const int32_t *dims, const int32_t *s1, const int32_t *s2, int32_t broadcast, int32_t size,
                       const int16_t *input1, const int16_t *input2, int16_t *output,
                       ek_binary_row_fn row, const void *p)
{
    if (!broadcast) {
        row(p, input1, 1, input2, 1, output, size);
    } else {
        ek_broadcast_walk(dims, s1, s2, input1, input2, output, 2, row, p);
    }
}

void ek_add_s16(const ek_add_params *p, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    binary_s16(p->dims, p->in1_strides, p->in2_strides, p->broadcast, p->size, input1, input2, output, add_row_s16, p);
}

void ek_sub_s16(const ek_add_params *p, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    binary_s16(p->dims, p->in1_strides, p->in2_strides, p->broadcast, p->size, input1, input2, output, sub_row_s16, p);
}

void ek_mul_s16(const ek_mul_params *p, const int16_t *input1, const int16_t *input2, int16_t *output)
{
    binary_s16(p->dims, p->in1_strides, p->in2_strides, p->broadcast, p->size, input1, input2, output, mul_row_s16, p);
}
