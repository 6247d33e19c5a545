/* ek_harness.c -- answers the host's requests (PROTOCOL.md), times the model and its operators. */
#include "ek_harness.h"

#include <stddef.h>
#include <string.h>

#include "ek_board.h"

#define NO_OP 0xFFFFFFFFu

static ek_frame_parser parser;
static uint8_t tx[EK_FRAME_MAX_BYTES];
static int have_output;  /* the arena holds the output of the last INVOKE */
static int have_profile; /* an INVOKE has completed since reset: op_ticks are valid */

/* Operator timing: the hook closes the running operator's interval and opens the next one. */
static uint32_t hook_op = NO_OP;
static uint32_t hook_ticks;

void ek_harness_op_hook(uint32_t op_index)
{
    const uint32_t now = ek_timer_ticks();
    if (hook_op < ek_model.num_ops) {
        ek_model.op_ticks[hook_op] = now - hook_ticks;
    }
    hook_op = op_index;
    hook_ticks = now;
}

/* ---------------------------------------------------------------------------- answers */

static uint8_t *payload_area(void)
{
    return tx + EK_FRAME_HEADER_BYTES;
}

static void send(uint8_t type, uint8_t seq, uint32_t n)
{
    const uint32_t size = ek_frame_encode(tx, sizeof tx, type, seq, payload_area(), n);
    if (size > 0) {
        ek_uart_write(tx, size);
    }
}

/* strlen, without pulling the C library's word-at-a-time version into a small firmware (gcc
 * would otherwise recognise the loop and call it). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static uint32_t text_length(const char *s)
{
    uint32_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

static void send_error(uint8_t seq, uint8_t code, uint8_t request_type, const char *message)
{
    uint8_t *p = payload_area();
    uint32_t n = text_length(message);
    p[0] = code;
    p[1] = request_type;
    memcpy(p + 2, message, n);
    send(EK_MSG_ERROR, seq, 2 + n);
}

static uint32_t total_bytes(const ek_tensor_desc *t, uint32_t count)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        sum += t[i].bytes;
    }
    return sum;
}

/* Copy between a buffer and the concatenated byte space of several tensors. The caller has
 * checked offset + n against the total. */
static void copy_in(const ek_tensor_desc *t, uint32_t count, uint32_t offset, const uint8_t *src,
                    uint32_t n)
{
    for (uint32_t i = 0; i < count && n > 0; i++) {
        if (offset >= t[i].bytes) {
            offset -= t[i].bytes;
            continue;
        }
        uint32_t k = t[i].bytes - offset;
        if (k > n) {
            k = n;
        }
        memcpy(t[i].data + offset, src, k);
        src += k;
        n -= k;
        offset = 0;
    }
}

static void copy_out(const ek_tensor_desc *t, uint32_t count, uint32_t offset, uint8_t *dst,
                     uint32_t n)
{
    for (uint32_t i = 0; i < count && n > 0; i++) {
        if (offset >= t[i].bytes) {
            offset -= t[i].bytes;
            continue;
        }
        uint32_t k = t[i].bytes - offset;
        if (k > n) {
            k = n;
        }
        memcpy(dst, t[i].data + offset, k);
        dst += k;
        n -= k;
        offset = 0;
    }
}

static uint8_t *put_tensor(uint8_t *p, const ek_tensor_desc *t)
{
    *p++ = t->dtype;
    *p++ = t->rank;
    for (uint32_t d = 0; d < t->rank; d++) {
        p = ek_put_u32(p, t->dims[d]);
    }
    return ek_put_u32(p, t->bytes);
}

static void on_hello(const ek_frame *f)
{
    if (f->length != 0) {
        send_error(f->seq, EK_ERR_MALFORMED, f->type, "HELLO takes no payload");
        return;
    }
    uint8_t *const start = payload_area();
    uint8_t *p = start;
    uint32_t need = 2 + 32 + 5 * 4 + 2 + 2 + 1;
    for (uint32_t i = 0; i < ek_model.num_inputs; i++) {
        need += 2 + 4u * ek_model.inputs[i].rank + 4;
    }
    for (uint32_t i = 0; i < ek_model.num_outputs; i++) {
        need += 2 + 4u * ek_model.outputs[i].rank + 4;
    }
    uint32_t name_len = text_length(ek_model.board_name);
    if (name_len > 255) {
        name_len = 255;
    }
    if (need + name_len > EK_FRAME_MAX_PAYLOAD) {
        send_error(f->seq, EK_ERR_OUT_OF_RANGE, f->type, "model description over 1024 bytes");
        return;
    }
    *p++ = EK_PROTOCOL_VERSION;
    *p++ = 0;
    memcpy(p, ek_model.sha256, 32);
    p += 32;
    p = ek_put_u32(p, ek_model.cpu_clock_hz);
    p = ek_put_u32(p, ek_model.timer_hz);
    p = ek_put_u32(p, ek_model.arena_bytes);
    p = ek_put_u32(p, ek_static_ram_bytes());
    p = ek_put_u32(p, ek_model.stack_reserve_bytes);
    p = ek_put_u16(p, ek_model.num_ops);
    *p++ = ek_model.num_inputs;
    *p++ = ek_model.num_outputs;
    for (uint32_t i = 0; i < ek_model.num_inputs; i++) {
        p = put_tensor(p, &ek_model.inputs[i]);
    }
    for (uint32_t i = 0; i < ek_model.num_outputs; i++) {
        p = put_tensor(p, &ek_model.outputs[i]);
    }
    *p++ = (uint8_t)name_len;
    memcpy(p, ek_model.board_name, name_len);
    p += name_len;
    send(EK_MSG_HELLO_REPLY, f->seq, (uint32_t)(p - start));
}

static void on_input_chunk(const ek_frame *f)
{
    if (f->length < 4) {
        send_error(f->seq, EK_ERR_MALFORMED, f->type, "INPUT_CHUNK needs a u32 offset");
        return;
    }
    const uint32_t offset = ek_get_u32(f->payload);
    const uint32_t n = f->length - 4u;
    const uint32_t total = total_bytes(ek_model.inputs, ek_model.num_inputs);
    if (offset > total || n > total - offset) {
        send_error(f->seq, EK_ERR_OUT_OF_RANGE, f->type, "input offset + size past the inputs");
        return;
    }
    copy_in(ek_model.inputs, ek_model.num_inputs, offset, f->payload + 4, n);
    /* inputs and outputs share the model's arena: new input may land on the last output */
    have_output = 0;
    uint8_t *p = payload_area();
    p[0] = f->type;
    ek_put_u32(p + 1, offset + n);
    send(EK_MSG_ACK, f->seq, 5);
}

/* The smallest tick difference of two back-to-back timer reads. */
static uint32_t timer_overhead(void)
{
    uint32_t best = 0xFFFFFFFFu;
    for (int i = 0; i < 4; i++) {
        const uint32_t a = ek_timer_ticks();
        const uint32_t b = ek_timer_ticks();
        if (b - a < best) {
            best = b - a;
        }
    }
    return best;
}

static void on_invoke(const ek_frame *f)
{
    if (f->length != 0) {
        send_error(f->seq, EK_ERR_MALFORMED, f->type, "INVOKE takes no payload");
        return;
    }
    for (uint32_t i = 0; i < ek_model.num_ops; i++) {
        ek_model.op_ticks[i] = 0;
    }
    ek_stack_paint();
    hook_op = NO_OP;
    const uint32_t t0 = ek_timer_ticks();
    const int status = ek_model.invoke();
    const uint32_t t1 = ek_timer_ticks();
    hook_op = NO_OP;
    const uint32_t peak = ek_stack_peak_bytes();
    have_output = 1;
    have_profile = 1;
    uint8_t *p = payload_area();
    p = ek_put_u32(p, (uint32_t)status);
    p = ek_put_u32(p, t1 - t0);
    p = ek_put_u32(p, peak);
    ek_put_u32(p, timer_overhead());
    send(EK_MSG_INVOKE_DONE, f->seq, 16);
}

static void on_read_output(const ek_frame *f)
{
    if (f->length != 6) {
        send_error(f->seq, EK_ERR_MALFORMED, f->type, "READ_OUTPUT needs u32 offset, u16 n");
        return;
    }
    if (!have_output) {
        send_error(f->seq, EK_ERR_NOT_READY, f->type, "no output: INVOKE after the last input");
        return;
    }
    const uint32_t offset = ek_get_u32(f->payload);
    const uint32_t n = ek_get_u16(f->payload + 4);
    const uint32_t total = total_bytes(ek_model.outputs, ek_model.num_outputs);
    if (n > EK_MAX_OUTPUT_CHUNK || offset > total || n > total - offset) {
        send_error(f->seq, EK_ERR_OUT_OF_RANGE, f->type, "output offset + size out of range");
        return;
    }
    uint8_t *p = payload_area();
    ek_put_u32(p, offset);
    copy_out(ek_model.outputs, ek_model.num_outputs, offset, p + 4, n);
    send(EK_MSG_OUTPUT_DATA, f->seq, 4 + n);
}

static void on_read_profile(const ek_frame *f)
{
    if (f->length != 4) {
        send_error(f->seq, EK_ERR_MALFORMED, f->type, "READ_PROFILE needs u16 first, u16 count");
        return;
    }
    if (!have_profile) {
        send_error(f->seq, EK_ERR_NOT_READY, f->type, "no INVOKE yet");
        return;
    }
    const uint32_t first = ek_get_u16(f->payload);
    const uint32_t count = ek_get_u16(f->payload + 2);
    if (count > EK_MAX_PROFILE_OPS || first > ek_model.num_ops || count > ek_model.num_ops - first) {
        send_error(f->seq, EK_ERR_OUT_OF_RANGE, f->type, "operators out of range");
        return;
    }
    uint8_t *p = payload_area();
    p = ek_put_u16(p, (uint16_t)first);
    p = ek_put_u16(p, (uint16_t)count);
    for (uint32_t i = 0; i < count; i++) {
        p = ek_put_u32(p, ek_model.op_ticks[first + i]);
    }
    send(EK_MSG_PROFILE_DATA, f->seq, 4 + 4 * count);
}

static void on_frame(void *ctx, ek_frame_status status, const ek_frame *f)
{
    (void)ctx;
    if (status == EK_FRAME_BAD_CRC) {
        send_error(f->seq, EK_ERR_BAD_CRC, 0, "bad CRC");
        return;
    }
    if (status == EK_FRAME_BAD_LENGTH) {
        send_error(f->seq, EK_ERR_BAD_LENGTH, 0, "length over 1024");
        return;
    }
    switch (f->type) {
    case EK_MSG_HELLO:
        on_hello(f);
        break;
    case EK_MSG_INPUT_CHUNK:
        on_input_chunk(f);
        break;
    case EK_MSG_INVOKE:
        on_invoke(f);
        break;
    case EK_MSG_READ_OUTPUT:
        on_read_output(f);
        break;
    case EK_MSG_READ_PROFILE:
        on_read_profile(f);
        break;
    default:
        send_error(f->seq, EK_ERR_UNKNOWN_TYPE, f->type, "unknown request type");
        break;
    }
}

void ek_harness_init(void)
{
    ek_frame_parser_init(&parser);
    have_output = 0;
    have_profile = 0;
    hook_op = NO_OP;
}

void ek_harness_feed(uint8_t byte)
{
    ek_frame_parser_feed(&parser, byte, on_frame, NULL);
}

void ek_harness_run(void)
{
    ek_harness_init();
    for (;;) {
        uint8_t byte;
        if (ek_uart_read_byte(&byte)) {
            ek_harness_feed(byte);
        } else {
            ek_board_idle();
        }
    }
}
