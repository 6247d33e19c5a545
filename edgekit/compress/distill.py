"""Knowledge distillation (Hinton et al. 2015) for Keras 3 models.

The student learns from the labels and from the teacher's softened outputs:

    loss = alpha * CE(labels, softmax(s)) + (1 - alpha) * T^2 * CE(softmax(t / T), softmax(s / T))

with ``s``, ``t`` the student's and teacher's logits and ``T`` the temperature (the T^2 keeps
the soft term's gradients on the scale of the hard one). The teacher is fixed, so its logits
are computed once over the training set and packed beside the one-hot labels; training is a
plain ``fit`` of the student's logits with this loss, which works on every Keras backend.
The student keeps its softmax head: the model returned is the ordinary student.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedModelError
from .measure import compile_for_training, float_accuracy, seed_everything, train


def logits_model(model):
    """A model sharing ``model``'s layers that outputs the logits before its final softmax.

    Uses the layer named ``logits`` (zoo models) or the input of a final Softmax /
    ``Activation('softmax')`` layer; a model whose last Dense applies the softmax itself gets
    ``log(probabilities)``, which equals the logits up to a constant and distils the same.
    """
    import keras

    names = {l.name for l in model.layers}
    if "logits" in names:
        return keras.Model(model.inputs, model.get_layer("logits").output)
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and last.get_config().get("activation") == "softmax"):
        return keras.Model(model.inputs, last.input)
    if getattr(last, "activation", None) is not None and getattr(last.activation, "__name__", "") == "softmax":
        out = keras.layers.Lambda(lambda p: keras.ops.log(keras.ops.maximum(p, 1e-7)),
                                  name="log_probs")(model.outputs[0])
        return keras.Model(model.inputs, out)
    raise UnsupportedModelError(
        f"{model.name}: cannot find the logits (name the last Dense 'logits' or end in Softmax)")


def distillation_loss(num_classes: int, temperature: float, alpha: float):
    """Loss on y_true = [one-hot labels | teacher logits] and y_pred = student logits."""
    from keras import ops

    def loss(y_true, y_pred):
        onehot = y_true[:, :num_classes]
        teacher = y_true[:, num_classes:]
        log_p = ops.log_softmax(y_pred, axis=-1)
        hard = -ops.sum(onehot * log_p, axis=-1)
        soft_t = ops.softmax(teacher / temperature, axis=-1)
        log_s = ops.log_softmax(y_pred / temperature, axis=-1)
        soft = -ops.sum(soft_t * log_s, axis=-1) * (temperature ** 2)
        return alpha * hard + (1.0 - alpha) * soft

    return loss


@dataclass
class DistillReport:
    temperature: float
    alpha: float
    teacher_accuracy: float
    student_accuracy: float
    baseline_accuracy: float | None = None  # the same student trained on labels only
    note: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


def distill(student, teacher, data, epochs: int = 10, temperature: float = 4.0, alpha: float = 0.3,
            lr: float = 3e-3, batch_size: int = 32, seed: int = 0, verbose: int = 0):
    """Train ``student`` (in place) from ``teacher``'s softened outputs plus the labels."""

    t_logits = logits_model(teacher).predict(data.x_train, batch_size=128, verbose=0)
    onehot = np.eye(data.num_classes, dtype=np.float32)[data.y_train]
    packed = np.concatenate([onehot, t_logits.astype(np.float32)], axis=1)
    s_logits = logits_model(student)
    seed_everything(seed)
    compile_for_training(s_logits, lr, loss=distillation_loss(data.num_classes, temperature, alpha),
                         metrics=())
    s_logits.fit(data.x_train, packed, epochs=epochs, batch_size=batch_size, shuffle=True,
                 verbose=verbose)
    return student, DistillReport(temperature, alpha,
                                  float_accuracy(teacher, data.x_test, data.y_test),
                                  float_accuracy(student, data.x_test, data.y_test))


def compare_with_baseline(build_student, teacher, data, epochs: int = 10, temperature: float = 4.0,
                          alpha: float = 0.3, lr: float = 3e-3, seed: int = 0):
    """Distil a fresh student and train an identical one (same seed, same epochs) on labels
    only; the report says whether distillation helped."""

    seed_everything(seed)
    student = build_student()
    student, report = distill(student, teacher, data, epochs, temperature, alpha, lr, seed=seed)
    seed_everything(seed)
    baseline = build_student()
    train(baseline, data, epochs=epochs, lr=lr, seed=seed)
    report.baseline_accuracy = float_accuracy(baseline, data.x_test, data.y_test)
    diff = report.student_accuracy - report.baseline_accuracy
    if diff > 0:
        report.note = f"distillation helped: +{diff * 100:.1f} points over the label-only student"
    elif diff == 0:
        report.note = "distillation did not help: same accuracy as the label-only student"
    else:
        report.note = f"distillation did not help: {diff * 100:.1f} points below the label-only student"
    return student, baseline, report
