/* ek_frame.h -- frames of the edgekit serial protocol (PROTOCOL.md): CRC-32, a resynchronising
 * byte-at-a-time parser, an encoder. No board dependency: compiled for the host by the fuzz test.
 *
 * Frame: A5 5A | type u8 | seq u8 | length u16 LE | payload | crc32 u32 LE of type..payload.
 */
#ifndef EK_FRAME_H
#define EK_FRAME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EK_FRAME_SYNC0 0xA5u
#define EK_FRAME_SYNC1 0x5Au
#define EK_FRAME_MAX_PAYLOAD 1024u
#define EK_FRAME_HEADER_BYTES 6u /* sync, type, seq, length */
#define EK_FRAME_CRC_BYTES 4u
#define EK_FRAME_MAX_BYTES (EK_FRAME_HEADER_BYTES + EK_FRAME_MAX_PAYLOAD + EK_FRAME_CRC_BYTES)

/* What the parser found. */
typedef enum {
    EK_FRAME_OK = 0,         /* a valid frame */
    EK_FRAME_BAD_CRC = 1,    /* sync, header and length fine, CRC wrong */
    EK_FRAME_BAD_LENGTH = 2  /* length field over EK_FRAME_MAX_PAYLOAD */
} ek_frame_status;

typedef struct {
    uint8_t type;
    uint8_t seq;
    uint16_t length;
    const uint8_t *payload; /* valid only during the handler call */
} ek_frame;

/* Called for every frame or bad frame the parser finds; for a bad frame, type and seq are the
 * header bytes as received and payload is NULL. */
typedef void (*ek_frame_handler)(void *ctx, ek_frame_status status, const ek_frame *frame);

typedef struct {
    uint8_t buf[EK_FRAME_MAX_BYTES]; /* bytes of a frame candidate: buf[start..end) */
    uint32_t start;
    uint32_t end;
} ek_frame_parser;

/* CRC-32 (IEEE 802.3, as zlib.crc32): crc = ek_crc32_update(0, data, n), chainable. */
uint32_t ek_crc32_update(uint32_t crc, const uint8_t *data, uint32_t n);

void ek_frame_parser_init(ek_frame_parser *p);

/* Push one received byte; calls handler zero or more times. After a bad frame the parser scans
 * again from the byte after that frame's sync, so a good frame hidden behind garbage is found. */
void ek_frame_parser_feed(ek_frame_parser *p, uint8_t byte, ek_frame_handler handler, void *ctx);

/* Bytes a frame candidate is still waiting for (0 when idle); for diagnostics and tests. */
uint32_t ek_frame_parser_pending(const ek_frame_parser *p);

/* Write a complete frame into out (capacity cap). Returns its size in bytes, or 0 if the payload
 * is over EK_FRAME_MAX_PAYLOAD or the frame does not fit in cap. payload may be NULL if n == 0. */
uint32_t ek_frame_encode(uint8_t *out, uint32_t cap, uint8_t type, uint8_t seq,
                         const uint8_t *payload, uint32_t n);

/* Little-endian helpers shared by the harness. */
static inline uint16_t ek_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t ek_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint8_t *ek_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}
static inline uint8_t *ek_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

#ifdef __cplusplus
}
#endif

#endif /* EK_FRAME_H */
