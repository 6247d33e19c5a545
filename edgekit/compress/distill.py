"""Knowledge distillation (Hinton et al. 2015) for Keras 3 models.

The student learns from the labels and from the teacher's softened outputs:

    loss = alpha * CE(labels, softmax(s)) + (1 - alpha) * T^2 * CE(softmax(t / T), softmax(s / T))

with ``s``, ``t`` the student's and teacher's logits and ``T`` the temperature (the T^2 keeps
the soft term's gradients on the scale of the hard one). The teacher is fixed, so its logits
are computed once over the training set and packed beside the one-hot labels; training is a
plain ``fit`` of the student's logits with this loss, which works on every Keras backend.
The student keeps its softmax head: the model returned is the ordinary student.

Intermediate features can teach too, trained jointly with the outputs above:

- hints (FitNets, Romero et al. 2015): a 1x1 convolution (the adapter, used only in training)
  maps a student feature map to the teacher's channels at the same resolution, and its mean
  squared distance to the teacher's map (scaled to unit RMS) is added with weight ``hint_weight``;
- attention transfer (Zagoruyko and Komodakis 2017): each map's spatial attention, the mean
  over channels of the squared activations flattened and L2-normalised, is pulled towards the
  teacher's with weight ``attention_weight`` times their mean squared difference (the paper's
  beta of 1000 is a good start).

The pairs are the last layer at each spatial resolution above 1x1 both networks have (stage ends),
the deepest ``max_pairs`` of them, unless given. FitNets trains the hints first and then the
outputs; here both are terms of one loss, trained together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def feature_pairs(student, teacher, max_pairs: int = 3) -> list[tuple[str, str]]:
    """(student layer, teacher layer) at each spatial size both have: the last layer of that size
    in each (a stage end), the deepest ``max_pairs``; neither the input nor a 1x1 map is one."""

    def stage_ends(model):
        ends = {}
        for layer in model.layers:
            shape = getattr(layer, "output", None)
            shape = None if shape is None or isinstance(shape, (list, tuple)) else tuple(shape.shape)
            if layer.__class__.__name__ == "InputLayer" or shape is None or len(shape) != 4 or \
                    shape[1] * shape[2] < 2:  # a 1x1 map has no spatial attention
                continue
            ends[shape[1:3]] = layer.name  # later layers of the same size replace earlier ones
        return ends

    s_ends, t_ends = stage_ends(student), stage_ends(teacher)
    sizes = [hw for hw in s_ends if hw in t_ends]  # in the student's order: shallow to deep
    return [(s_ends[hw], t_ends[hw]) for hw in sizes[-max_pairs:]] if max_pairs > 0 else []


def attention_map(features):
    """Zagoruyko and Komodakis' spatial attention of NHWC maps (Keras tensors or NumPy arrays):
    mean over channels of the squared activations, flattened, L2-normalised."""
    from keras import ops

    q = ops.mean(ops.square(features), axis=-1)
    q = ops.reshape(q, (-1, q.shape[1] * q.shape[2]))
    return q / (ops.sqrt(ops.sum(ops.square(q), axis=-1, keepdims=True)) + 1e-6)


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
    pairs: list = field(default_factory=list)  # (student layer, teacher layer) taught by features
    hint_weight: float = 0.0
    attention_weight: float = 0.0
    feature_losses: dict = field(default_factory=dict)  # output -> [first epoch, last epoch] loss

    def to_json(self) -> dict:
        return dict(self.__dict__)


def distill(student, teacher, data, epochs: int = 10, temperature: float = 4.0, alpha: float = 0.3,
            lr: float = 3e-3, batch_size: int = 32, seed: int = 0, verbose: int = 0,
            hint_weight: float = 0.0, attention_weight: float = 0.0, pairs=None, max_pairs: int = 3):
    """Train ``student`` (in place) from ``teacher``'s softened outputs plus the labels, and from
    its features when ``hint_weight`` or ``attention_weight`` is set."""
    import keras

    if hint_weight < 0 or attention_weight < 0:
        raise ValueError("feature loss weights cannot be negative")
    pairs = [] if hint_weight == attention_weight == 0 else \
        list(feature_pairs(student, teacher, max_pairs) if pairs is None else pairs)
    if (hint_weight or attention_weight) and not pairs:
        raise UnsupportedModelError(f"{student.name} and {teacher.name} have no feature map of the same size "
                                    "to distil (hints and attention need one)")
    names = {l.name for l in student.layers}, {l.name for l in teacher.layers}
    for s_name, t_name in pairs:
        if s_name not in names[0] or t_name not in names[1]:
            raise UnsupportedModelError(f"no layer {s_name!r} in the student or {t_name!r} in the teacher")

    t_logits = logits_model(teacher).predict(data.x_train, batch_size=128, verbose=0)
    onehot = np.eye(data.num_classes, dtype=np.float32)[data.y_train]
    targets = [np.concatenate([onehot, t_logits.astype(np.float32)], axis=1)]
    losses = [distillation_loss(data.num_classes, temperature, alpha)]
    weights = [1.0]
    s_logits = logits_model(student)
    outputs = [s_logits.outputs[0]]
    seed_everything(seed)
    if pairs:
        t_feats = keras.Model(teacher.inputs, [teacher.get_layer(t).output for _, t in pairs]).predict(
            data.x_train, batch_size=128, verbose=0)
        t_feats = t_feats if isinstance(t_feats, (list, tuple)) else [t_feats]
        for i, ((s_name, t_name), t_feat) in enumerate(zip(pairs, t_feats)):
            s_out = student.get_layer(s_name).output
            if tuple(s_out.shape[1:3]) != t_feat.shape[1:3]:
                raise UnsupportedModelError(f"{s_name} is {tuple(s_out.shape[1:3])}, {t_name} {t_feat.shape[1:3]}: "
                                            "a feature pair needs the same spatial size")
            if hint_weight > 0:
                outputs.append(keras.layers.Conv2D(t_feat.shape[-1], 1, name=f"hint{i}")(s_out))
                targets.append(t_feat / max(float(np.sqrt(np.mean(np.square(t_feat)))), 1e-6))
                losses.append("mse")
                weights.append(hint_weight)
            if attention_weight > 0:
                outputs.append(keras.layers.Lambda(attention_map, name=f"attention{i}")(s_out))
                targets.append(np.asarray(attention_map(t_feat)))
                losses.append("mse")
                weights.append(attention_weight)
    trainer = keras.Model(student.inputs, outputs)  # shares the student's layers; adapters live only here
    compile_for_training(trainer, lr, loss=losses if pairs else losses[0], metrics=(),
                         loss_weights=weights if pairs else None)
    history = trainer.fit(data.x_train, targets if pairs else targets[0], epochs=epochs, batch_size=batch_size,
                          shuffle=True, verbose=verbose).history
    report = DistillReport(temperature, alpha, float_accuracy(teacher, data.x_test, data.y_test),
                           float_accuracy(student, data.x_test, data.y_test), pairs=[list(p) for p in pairs],
                           hint_weight=hint_weight if pairs else 0.0,
                           attention_weight=attention_weight if pairs else 0.0)
    report.feature_losses = {k[:-len("_loss")]: [float(v[0]), float(v[-1])] for k, v in history.items()
                             if k.startswith(("hint", "attention")) and k.endswith("_loss")}
    return student, report


def compare_with_baseline(build_student, teacher, data, epochs: int = 10, temperature: float = 4.0,
                          alpha: float = 0.3, lr: float = 3e-3, seed: int = 0, **features):
    """Distil a fresh student and train an identical one (same seed, same epochs) on labels
    only; the report says whether distillation helped. ``features``: ``distill``'s hint_weight,
    attention_weight, pairs, max_pairs."""

    seed_everything(seed)
    student = build_student()
    student, report = distill(student, teacher, data, epochs, temperature, alpha, lr, seed=seed, **features)
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
