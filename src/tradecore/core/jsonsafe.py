"""JSON-ready values: the report's null rule (nan/inf -> null: "not defined for this run"),
shared by reports, metrics and the model registry; in core because every layer writes JSON."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["json_safe"]


def json_safe(obj: Any) -> Any:
    """nan/+-inf -> None, numpy scalars/arrays -> Python values, tuples/sets -> lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (bool, int, str)) or obj is None:
        return obj
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, np.ndarray):
        return [json_safe(x) for x in obj.tolist()]
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [json_safe(x) for x in obj]
    raise TypeError(f"json_safe: cannot serialise {type(obj).__name__}: {obj!r}")
