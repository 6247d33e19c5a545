"""Keras ``LSTM`` and ``GRU`` layers traced into graphs TensorFlow's converter turns into operators
edgekit runs, without the user unrolling anything.

Keras 3 runs a recurrent layer's sequence loop as a ``tf.while_loop`` over its variables, and
TensorFlow's converter (2.21) crashes on some of those graphs (SIGSEGV) and turns the others into
WHILE loops. A Keras 3 layer asks its backend first for a fused implementation of the whole
sequence (``keras.src.backend.lstm`` / ``gru``, cuDNN on a GPU; ``NotImplementedError`` sends it
back to the generic loop). While :func:`fusable_recurrent_layers` is active, those two functions
are replaced:

* LSTM (tanh and sigmoid activations, a bias, no mask, forwards): a ``tf.function`` with the
  attributes of Keras 2's ``standard_lstm`` (``api_implements="lstm_<id>"``, ``time_major``,
  ``go_backwards``) and an input signature with every shape fixed, which the converter's
  composite-function pass replaces by one fused UNIDIRECTIONAL_SEQUENCE_LSTM (its output and
  cell state become variable tensors that persist across invokes). Without fixed shapes on the
  function's arguments the converter reads an unranked weight as a matrix and crashes: that is
  the segmentation fault Keras models with LSTM layers meet.
* GRU (TFLite has no fused GRU): the sequence loop unrolled in the graph over the fixed number of
  time steps, so it converts to FULLY_CONNECTED, LOGISTIC, TANH, MUL, ADD, SUB,
  STRIDED_SLICE and PACK.

Anything else (a mask, other activations, an LSTM running backwards) raises
``NotImplementedError``, and the layer runs its own loop as before.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator


def _value(w):
    return getattr(w, "value", w)


def _lstm_sequence(x, h, c, kernel, recurrent_kernel, bias):
    """Keras 2's ``standard_lstm`` contract, as the converter expects it: (last output, full
    sequence, h, c, runtime). The body is the LSTM itself (the converter replaces it)."""
    import tensorflow as tf

    outputs = []
    for t in range(x.shape[1]):
        z = tf.matmul(x[:, t], kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        outputs.append(h)
    return h, tf.stack(outputs, axis=1), h, c, tf.constant(0.0)


def _is(fn, name: str) -> bool:
    return getattr(fn, "__name__", "") == name


def fused_lstm(inputs, initial_state_h, initial_state_c, mask, kernel, recurrent_kernel, bias, activation,
               recurrent_activation, return_sequences=False, go_backwards=False, unroll=False, time_major=False):
    """``keras.src.backend.lstm``'s signature: the fusable LSTM, or NotImplementedError."""
    import tensorflow as tf

    if (mask is not None or bias is None or go_backwards or time_major or not _is(activation, "tanh")
            or not _is(recurrent_activation, "sigmoid") or not inputs.shape.is_fully_defined()):
        raise NotImplementedError
    args = [inputs, initial_state_h, initial_state_c, _value(kernel), _value(recurrent_kernel), _value(bias)]
    fn = tf.function(
        _lstm_sequence, autograph=False,
        input_signature=[tf.TensorSpec(a.shape, a.dtype) for a in args],
        experimental_attributes={"api_implements": f"lstm_{uuid.uuid4().hex}", "api_preferred_device": "CPU",
                                 "time_major": False, "go_backwards": False})
    last, sequence, h, c, _ = fn(*args)
    return last, (sequence if return_sequences else tf.expand_dims(last, 1)), [h, c]


def unrolled_gru(inputs, initial_state, mask, kernel, recurrent_kernel, bias, activation, recurrent_activation,
                 return_sequences=False, go_backwards=False, unroll=False, time_major=False, reset_after=True):
    """``keras.src.backend.gru``'s signature: Keras 3's GRU cell, unrolled over the time steps."""
    import tensorflow as tf

    if mask is not None or time_major or not inputs.shape.is_fully_defined():
        raise NotImplementedError
    kernel, recurrent_kernel = _value(kernel), _value(recurrent_kernel)
    units = recurrent_kernel.shape[0]
    if bias is not None:
        bias = _value(bias)
        in_bias, rec_bias = (bias[0], bias[1]) if reset_after else (bias, None)
    # one matrix product per gate, no SPLIT: at the first step the initial state is zero, the
    # reset gate goes unread, and a SPLIT output nothing reads stays float after quantization
    k_z, k_r, k_h = (kernel[:, g * units:(g + 1) * units] for g in range(3))
    rk_z, rk_r, rk_h = (recurrent_kernel[:, g * units:(g + 1) * units] for g in range(3))
    b_z, b_r, b_h = ((0.0, 0.0, 0.0) if bias is None else (in_bias[g * units:(g + 1) * units] for g in range(3)))
    rb_z, rb_r, rb_h = ((0.0, 0.0, 0.0) if bias is None or not reset_after
                        else (rec_bias[g * units:(g + 1) * units] for g in range(3)))
    h = initial_state
    steps = range(inputs.shape[1])
    outputs = []
    for t in (reversed(steps) if go_backwards else steps):
        x = inputs[:, t]
        z = recurrent_activation(tf.matmul(x, k_z) + b_z + tf.matmul(h, rk_z) + rb_z)
        r = recurrent_activation(tf.matmul(x, k_r) + b_r + tf.matmul(h, rk_r) + rb_r)
        if reset_after:
            candidate = activation(tf.matmul(x, k_h) + b_h + r * (tf.matmul(h, rk_h) + rb_h))
        else:
            candidate = activation(tf.matmul(x, k_h) + b_h + tf.matmul(r * h, rk_h))
        h = z * h + (1.0 - z) * candidate
        outputs.append(h)
    return h, (tf.stack(outputs, axis=1) if return_sequences else tf.expand_dims(h, 1)), [h]


@contextlib.contextmanager
def fusable_recurrent_layers() -> Iterator[None]:
    """While active, Keras LSTM and GRU layers traced with the TensorFlow backend take the paths
    above (see the module docstring)."""
    from keras.src import backend

    saved = backend.lstm, backend.gru
    backend.lstm, backend.gru = fused_lstm, unrolled_gru
    try:
        yield
    finally:
        backend.lstm, backend.gru = saved
