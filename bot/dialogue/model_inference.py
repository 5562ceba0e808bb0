"""The intent classifier's TensorFlow graph called directly, without tf.function's dispatch.

Stock ``RasaModel._rasa_predict`` wraps ``predict_step`` in a ``tf.function`` with a fixed input
signature and calls it for every message. Each call then re-checks the arguments against that
signature and looks the traced graph up again before running it: measured here at 0.7 of the
1.1 ms that DIET's prediction takes per message (``make bench``'s core profile had DIET at a
quarter of the core's time). The signature is fixed, so there is exactly one traced graph: we
take it once (``get_concrete_function``, TensorFlow's public API for this) and call it with the
batch converted to the signature's dtypes. Same graph, same inputs, same numbers
(``tests/test_dialogue_engine.py`` compares every prediction with stock's).

Eager mode (``run_eagerly``) and the first call, which traces the graph, stay with the stock
method.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from keras.utils import tf_utils
from rasa.shared.constants import DIAGNOSTIC_DATA
from rasa.utils.tensorflow.models import RasaModel

_STOCK_PREDICT = RasaModel._rasa_predict


def _graph_of(model: RasaModel) -> tuple[Any, list[tf.DType]] | None:
    """The model's one traced prediction graph and its input dtypes (None before tracing)."""
    found = model.__dict__.get("_smo_graph")
    if found is not None:
        return found
    step = getattr(model, "_tf_predict_step", None)
    if step is None:
        return None
    graph = step.get_concrete_function()  # the input signature is fixed: one graph
    dtypes = [spec.dtype for spec in graph.structured_input_signature[0][0]]
    model.__dict__["_smo_graph"] = (graph, dtypes)
    return graph, dtypes


def _rasa_predict(self: RasaModel, batch_in: tuple[np.ndarray, ...]
                  ) -> dict[str, np.ndarray | dict[str, Any]]:
    """Stock ``_rasa_predict``, calling the traced graph without tf.function's dispatch."""
    found = None if self._run_eagerly or not self.prepared_for_prediction else _graph_of(self)
    if found is None or len(batch_in) != len(found[1]):
        return _STOCK_PREDICT(self, batch_in)  # traces on first use; stock errors unchanged
    self._training = False
    graph, dtypes = found
    tensors = [tf.convert_to_tensor(array, dtype=dtype)
               for array, dtype in zip(batch_in, dtypes, strict=True)]
    outputs = tf_utils.sync_to_numpy_or_python_type(graph(tensors))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs
