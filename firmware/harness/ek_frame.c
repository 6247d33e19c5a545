/* ek_frame.c -- CRC-32, frame parser and encoder of the edgekit serial protocol. */
#include "ek_frame.h"

#include <stddef.h>

/* CRC-32, reflected polynomial 0xEDB88320, four bits at a time: a 64-byte table instead of 1 KiB. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t ek_crc32_update(uint32_t crc, const uint8_t *data, uint32_t n)
{
    crc = ~crc;
    for (uint32_t i = 0; i < n; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 0xFu];
        crc = (crc >> 4) ^ crc_nibble[crc & 0xFu];
    }
    return ~crc;
}

void ek_frame_parser_init(ek_frame_parser *p)
{
    p->start = 0;
    p->end = 0;
}

uint32_t ek_frame_parser_pending(const ek_frame_parser *p)
{
    return p->end - p->start;
}

/* Consume what the buffered bytes allow: drop bytes that cannot start a frame, report complete
 * frames and bad ones, stop when a candidate needs more bytes. */
static void settle(ek_frame_parser *p, ek_frame_handler handler, void *ctx)
{
    for (;;) {
        const uint32_t n = p->end - p->start;
        const uint8_t *b = p->buf + p->start;
        if (n == 0) {
            p->start = p->end = 0;
            return;
        }
        if (b[0] != EK_FRAME_SYNC0) {
            p->start++;
            continue;
        }
        if (n < 2) {
            return;
        }
        if (b[1] != EK_FRAME_SYNC1) {
            p->start++;
            continue;
        }
        if (n < EK_FRAME_HEADER_BYTES) {
            return;
        }
        ek_frame f;
        f.type = b[2];
        f.seq = b[3];
        f.length = ek_get_u16(b + 4);
        f.payload = NULL;
        if (f.length > EK_FRAME_MAX_PAYLOAD) {
            handler(ctx, EK_FRAME_BAD_LENGTH, &f);
            p->start += 2; /* resume after this frame's sync */
            continue;
        }
        const uint32_t total = EK_FRAME_HEADER_BYTES + f.length + EK_FRAME_CRC_BYTES;
        if (n < total) {
            return;
        }
        const uint32_t want = ek_get_u32(b + EK_FRAME_HEADER_BYTES + f.length);
        if (ek_crc32_update(0, b + 2, 4u + f.length) == want) {
            f.payload = b + EK_FRAME_HEADER_BYTES;
            handler(ctx, EK_FRAME_OK, &f);
            p->start += total;
        } else {
            handler(ctx, EK_FRAME_BAD_CRC, &f);
            p->start += 2;
        }
    }
}

/* memmove for the few bytes of a frame, without the C library's large version. */
static void move_bytes(uint8_t *dst, const uint8_t *src, uint32_t n)
{
    if ((uintptr_t)dst < (uintptr_t)src) {
        for (uint32_t i = 0; i < n; i++) {
            dst[i] = src[i];
        }
    } else {
        while (n-- > 0) {
            dst[n] = src[n];
        }
    }
}

void ek_frame_parser_feed(ek_frame_parser *p, uint8_t byte, ek_frame_handler handler, void *ctx)
{
    if (p->end == sizeof p->buf) {
        /* Out of room at the end: move the candidate to the front. settle() keeps the candidate
         * shorter than a whole frame, so there is always room after this. */
        const uint32_t n = p->end - p->start;
        move_bytes(p->buf, p->buf + p->start, n);
        p->start = 0;
        p->end = n;
    }
    p->buf[p->end++] = byte;
    settle(p, handler, ctx);
}

uint32_t ek_frame_encode(uint8_t *out, uint32_t cap, uint8_t type, uint8_t seq,
                         const uint8_t *payload, uint32_t n)
{
    if (n > EK_FRAME_MAX_PAYLOAD || cap < EK_FRAME_HEADER_BYTES + n + EK_FRAME_CRC_BYTES) {
        return 0;
    }
    out[0] = EK_FRAME_SYNC0;
    out[1] = EK_FRAME_SYNC1;
    out[2] = type;
    out[3] = seq;
    ek_put_u16(out + 4, (uint16_t)n);
    if (n > 0 && out + EK_FRAME_HEADER_BYTES != payload) {
        move_bytes(out + EK_FRAME_HEADER_BYTES, payload, n);
    }
    ek_put_u32(out + EK_FRAME_HEADER_BYTES + n, ek_crc32_update(0, out + 2, 4u + n));
    return EK_FRAME_HEADER_BYTES + n + EK_FRAME_CRC_BYTES;
}
