/* ek_frame_fuzz.c -- drive the frame parser alone, for tests/test_firmware_fuzz.py.
 *
 * Reads bytes from stdin, feeds them to ek_frame_parser_feed one at a time and prints one line
 * per event: "<status> <offset> <type> <seq> <length> <crc32 of payload>", where status is OK,
 * CRC or LEN and offset is the stream position of the frame's first sync byte. Each good frame
 * is also re-encoded with ek_frame_encode and checked against the bytes received.
 * Built with -DEK_LIBFUZZER it is a libFuzzer target instead (clang -fsanitize=fuzzer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ek_frame.h"

typedef struct {
    ek_frame_parser parser;
    uint64_t fed; /* bytes pushed so far */
    int print;
} driver;

static void on_event(void *ctx, ek_frame_status status, const ek_frame *f)
{
    driver *d = ctx;
    const uint64_t offset = d->fed - (d->parser.end - d->parser.start);
    if (status == EK_FRAME_OK) {
        static uint8_t again[EK_FRAME_MAX_BYTES];
        const uint32_t n = ek_frame_encode(again, sizeof again, f->type, f->seq, f->payload, f->length);
        const uint8_t *orig = d->parser.buf + d->parser.start;
        if (n != EK_FRAME_HEADER_BYTES + f->length + EK_FRAME_CRC_BYTES || memcmp(again, orig, n) != 0) {
            fprintf(stderr, "re-encoded frame differs at offset %llu\n", (unsigned long long)offset);
            abort();
        }
    }
    if (d->print) {
        static const char *const names[] = {"OK", "CRC", "LEN"};
        const uint32_t crc = status == EK_FRAME_OK ? ek_crc32_update(0, f->payload, f->length) : 0u;
        printf("%s %llu %u %u %u %08x\n", names[status], (unsigned long long)offset, f->type, f->seq,
               f->length, crc);
    }
}

#ifdef EK_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static driver d;
    ek_frame_parser_init(&d.parser);
    d.fed = 0;
    d.print = 0;
    for (size_t i = 0; i < size; i++) {
        d.fed++;
        ek_frame_parser_feed(&d.parser, data[i], on_event, &d);
    }
    return 0;
}
#else
int main(void)
{
    static driver d;
    ek_frame_parser_init(&d.parser);
    d.print = 1;
    int c;
    while ((c = getchar()) != EOF) {
        d.fed++;
        ek_frame_parser_feed(&d.parser, (uint8_t)c, on_event, &d);
    }
    printf("PENDING %u\n", ek_frame_parser_pending(&d.parser));
    return 0;
}
#endif
