/* ek_harness.h -- the device side of the edgekit serial protocol (PROTOCOL.md).
 *
 * The harness answers requests from the host: HELLO, INPUT_CHUNK, INVOKE, READ_OUTPUT,
 * READ_PROFILE. What it knows about the model and the board comes from one ek_model_desc that
 * the build generates per model and board (ek_model_glue.c, from ek_model_glue.c.j2).
 */
#ifndef EK_HARNESS_H
#define EK_HARNESS_H

#include <stdint.h>

#include "ek_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EK_PROTOCOL_VERSION 1u

/* Request and answer types */
#define EK_MSG_HELLO 0x01u
#define EK_MSG_INPUT_CHUNK 0x02u
#define EK_MSG_INVOKE 0x03u
#define EK_MSG_READ_OUTPUT 0x04u
#define EK_MSG_READ_PROFILE 0x05u
#define EK_MSG_HELLO_REPLY 0x81u
#define EK_MSG_ACK 0x82u
#define EK_MSG_OUTPUT_DATA 0x83u
#define EK_MSG_INVOKE_DONE 0x84u
#define EK_MSG_PROFILE_DATA 0x85u
#define EK_MSG_ERROR 0xEEu

/* ERROR codes */
#define EK_ERR_BAD_CRC 1u
#define EK_ERR_BAD_LENGTH 2u
#define EK_ERR_UNKNOWN_TYPE 3u
#define EK_ERR_OUT_OF_RANGE 4u
#define EK_ERR_NOT_READY 5u
#define EK_ERR_MALFORMED 6u

#define EK_MAX_OUTPUT_CHUNK 1016u
#define EK_MAX_PROFILE_OPS 250u

/* One model input or output: where it lives and what the host is told about it. */
typedef struct {
    uint8_t *data;
    uint32_t bytes;
    uint8_t dtype; /* TFLite TensorType code: 9 int8, 3 uint8, 7 int16, 2 int32, 0 float32 */
    uint8_t rank;
    const uint32_t *dims;
} ek_tensor_desc;

typedef struct {
    uint8_t sha256[32]; /* of the .tflite the model was generated from */
    const char *board_name;
    uint32_t cpu_clock_hz;
    uint32_t timer_hz;
    uint32_t arena_bytes;
    uint32_t stack_reserve_bytes;
    uint16_t num_ops;
    uint8_t num_inputs;
    uint8_t num_outputs;
    const ek_tensor_desc *inputs;
    const ek_tensor_desc *outputs;
    uint32_t *op_ticks; /* num_ops entries, written by the operator hook */
    int (*invoke)(void);
} ek_model_desc;

/* Generated per build (ek_model_glue.c). */
extern const ek_model_desc ek_model;

/* Memory facts from the linker script (boards/support/common/ek_memory.c on a target; a stub on
 * the host). */
void ek_stack_paint(void);
uint32_t ek_stack_peak_bytes(void);
uint32_t ek_static_ram_bytes(void);

/* Called by the generated model before operator i and once more with i == num_ops at the end
 * (compile the model with -include ek_op_hook.h). */
void ek_harness_op_hook(uint32_t op_index);

/* Handle one received byte: parse, answer complete requests over ek_uart_write. */
void ek_harness_init(void);
void ek_harness_feed(uint8_t byte);

/* init + read bytes forever. */
void ek_harness_run(void);

#ifdef __cplusplus
}
#endif

#endif /* EK_HARNESS_H */
