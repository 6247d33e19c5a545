/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 weights, int16 gates and cell state, as TFLM's integer LSTM
 * (lstm_eval.h) computes it: ek_lstm_s8 with int8 input, output and output state, ek_lstm_s16 with
 * int16 ones (the 16x8 scheme). The two share every step below but the gates' fully connected
 * layers and the output state's clamp.
 *
 * Per time step, for each of the four gates (order: input, forget, cell, output):
 *   g = sat16( fc16(x_t, W_gate) + fc16(h, R_gate) )      Q3.12, int16
 * where fc16 is a fully connected layer to int16: the folded bias (gate bias plus
 * input_offset * row sum), the dot product, TFLite's requantization, clamped to int16. For
 * ek_lstm_s8 the bias and sum are int32 and the requantization the 32-bit one (ek_requantize);
 * for ek_lstm_s16 (int16 x int8) they are int64 and it is the 64-bit one (ek_requantize_s64: the
 * multipliers reduced to 16 bits and the shifts made right shifts at generation time). Then the
 * input, forget and output gates go through the int16 sigmoid and the cell gate through the int16
 * tanh (both Q0.15 out, TFLite's 256-entry table with linear interpolation), and
 *   c = sat16( mul(f, c) + mul(i, g) ), clipped to +-cell_clip when cell_clip > 0
 *   h = mul(tanh(c), o) + hidden_zero_point, clamped to int8 (int16);   output[t] = h
 * where mul is TFLite's elementwise int16 product requantized by a (multiplier, shift) pair.
 * Every multiplier, shift and clip value is computed at generation time (codegen/ops/lstm.py).
 *
 * The output state h and the cell state c are variable tensors: they persist across invokes
 * and are read and written in place; the model's reset function sets them as TFLM does
 * (h to its zero point, c to 0).
 * The output never overlaps the input. Scratch: four int16 vectors of `units` (one row). */
#ifndef EK_LSTM_H
#define EK_LSTM_H

#include <stdint.h>

#define EK_LSTM_GATES 4 /* input, forget, cell, output */

typedef struct {
    int32_t batches;
    int32_t time_steps;
    int32_t time_major;   /* input [time][batch][in] and output [time][batch][units] */
    int32_t input_size;
    int32_t units;
    const int8_t *input_weights;      /* [gate][units][input_size] */
    const void *input_bias;           /* [gate][units]: gate bias + input_offset * row sum;
                                         int32_t for ek_lstm_s8, int64_t for ek_lstm_s16 */
    const int8_t *recurrent_weights;  /* [gate][units][units] */
    const void *recurrent_bias;       /* [gate][units]: hidden_offset * row sum; as input_bias */
    int32_t input_multiplier[EK_LSTM_GATES]; /* ek_lstm_s16: reduced, with right shifts */
    int32_t input_shift[EK_LSTM_GATES];
    int32_t recurrent_multiplier[EK_LSTM_GATES];
    int32_t recurrent_shift[EK_LSTM_GATES];
    int32_t cell_gate_tanh;           /* 1: tanh on the cell gate; 0: sigmoid */
    /* the int16 activations' input rescaling: x * multiplier, rounded right shift */
    int32_t gate_act_multiplier;      /* the gates' Q3.12 input */
    int32_t gate_act_shift;
    int32_t cell_act_multiplier;      /* tanh of the cell state */
    int32_t cell_act_shift;
    int32_t forget_multiplier;        /* f * c -> cell scale */
    int32_t forget_shift;
    int32_t input_gate_multiplier;    /* i * g -> cell scale */
    int32_t input_gate_shift;
    int32_t hidden_multiplier;        /* o * tanh(c) -> hidden (output) scale */
    int32_t hidden_shift;
    int32_t hidden_zero_point;
    int32_t cell_clip;                /* quantized; 0: no clipping */
    const uint16_t *sigmoid_table;    /* [256] the table of the int16 sigmoid and tanh (ek_sigmoid_s16.h) */
} ek_lstm_params;

int32_t ek_lstm_s8_scratch_bytes(int32_t units);
int32_t ek_lstm_s16_scratch_bytes(int32_t units);

void ek_lstm_s8(const ek_lstm_params *p, const int8_t *input, int8_t *output, int8_t *hidden,
                int16_t *cell, void *scratch);
void ek_lstm_s16(const ek_lstm_params *p, const int16_t *input, int16_t *output, int16_t *hidden,
                 int16_t *cell, void *scratch);

#endif /* EK_LSTM_H */
