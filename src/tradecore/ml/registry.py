"""The model registry: a directory store of immutable model versions, and the champion alias.

Layout (plain files, diffable, copyable with rsync)::

    <root>/models/<model_id>/model.onnx   the graph the engine runs
    <root>/models/<model_id>/state.npz    our MLP's weights (for online updates, ensembles)
    <root>/models/<model_id>/meta.json    id, name, kind, content hash, created, training data
                                          range, feature schema (+ hash), metrics, lineage
    <root>/aliases.json                   champion, challenger, and the history of changes

A model id is `<name>-<first 12 hex of the content hash>`: the same bytes always get the same id
and a version can never be overwritten with different bytes. `load` re-hashes the files, so a
modified model is refused. The engine passes the running pipeline's feature schema to `load`; a
model trained on different features (names, order, configuration) is refused with the
difference spelled out, because a model fed the wrong columns still produces numbers.

Promote / rollback only move the champion alias; every change is appended to the history with
the previous value, so `rollback` is exact and auditable.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tradecore.ml.features import schema_hash

__all__ = ["ModelRegistry", "ModelVersion", "SchemaMismatch", "RegistryError"]


class RegistryError(Exception):
    pass


class SchemaMismatch(RegistryError):
    pass


@dataclass(frozen=True)
class ModelVersion:
    model_id: str
    name: str
    kind: str                          # "mlp" | "lightgbm" | "ensemble" | "online-mlp"
    content_hash: str
    created_ns: int
    feature_schema: dict[str, Any]
    data_range: dict[str, Any]         # start_ns, end_ns, source, rows
    metrics: dict[str, Any]
    lineage: dict[str, Any]            # parents: [ids], how: "trained" | "online update" | ...
    output: str = "output"             # the ONNX output the engine reads
    task: str = "binary"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "name": self.name, "kind": self.kind,
                "content_hash": self.content_hash, "created_ns": self.created_ns,
                "feature_schema": self.feature_schema,
                "feature_schema_hash": schema_hash(self.feature_schema),
                "data_range": self.data_range, "metrics": self.metrics, "lineage": self.lineage,
                "output": self.output, "task": self.task, "extra": self.extra}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ModelVersion":
        return cls(d["model_id"], d["name"], d["kind"], d["content_hash"], d["created_ns"],
                   d["feature_schema"], d["data_range"], d["metrics"], d["lineage"],
                   d.get("output", "output"), d.get("task", "binary"), d.get("extra", {}))


def _npz_bytes(state: dict[str, np.ndarray] | None) -> bytes:
    if state is None:
        return b""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in sorted(state.items())})
    return buf.getvalue()


def _hash(onnx_bytes: bytes, state_bytes: bytes, config: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(onnx_bytes)
    h.update(state_bytes)
    h.update(orjson.dumps(config, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


def _json_safe(x: Any) -> Any:
    from tradecore.core.jsonsafe import json_safe
    return json_safe(x)


def schema_diff(expected: dict[str, Any], got: dict[str, Any]) -> str:
    parts = []
    if expected.get("source") != got.get("source"):
        parts.append(f"source {got.get('source')!r} != {expected.get('source')!r}")
    if expected.get("config") != got.get("config"):
        parts.append(f"config {got.get('config')!r} != {expected.get('config')!r}")
    en, gn = list(expected.get("names", [])), list(got.get("names", []))
    if en != gn:
        missing = [n for n in en if n not in gn]
        extra = [n for n in gn if n not in en]
        if missing or extra:
            parts.append(f"columns missing from the pipeline {missing}, not known to the model "
                         f"{extra}")
        else:
            parts.append(f"same columns in a different order: model {en}, pipeline {gn}")
    return "; ".join(parts) or "schemas differ"


class ModelRegistry:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "models").mkdir(parents=True, exist_ok=True)

    # -- writing -----------------------------------------------------------------------------
    def register(self, name: str, onnx_bytes: bytes, *, kind: str,
                 feature_schema: dict[str, Any], data_range: dict[str, Any],
                 metrics: dict[str, Any] | None = None, lineage: dict[str, Any] | None = None,
                 state: dict[str, np.ndarray] | None = None, config: dict[str, Any] | None = None,
                 output: str = "output", task: str = "binary",
                 created_ns: int | None = None) -> ModelVersion:
        """Store a new version (idempotent for identical content). `state`/`config` are our
        MLP's weights and constructor arguments (None for models we only run)."""
        if not name or "/" in name or name.startswith("."):
            raise RegistryError(f"register: bad model name {name!r}")
        if not onnx_bytes:
            raise RegistryError(f"register {name!r}: empty ONNX model")
        for k in ("names",):
            if k not in feature_schema:
                raise RegistryError(f"register {name!r}: feature_schema lacks {k!r}")
        sb = _npz_bytes(state)
        cfg = dict(config or {})
        h = _hash(onnx_bytes, sb, cfg)
        mid = f"{name}-{h[:12]}"
        d = self.root / "models" / mid
        if (d / "meta.json").is_file():
            return self.get(mid)
        v = ModelVersion(mid, name, kind, h, int(created_ns or time.time_ns()),
                         _json_safe(feature_schema), _json_safe(data_range),
                         _json_safe(metrics or {}),
                         _json_safe(lineage or {"parents": [], "how": "trained"}), output, task,
                         {"config": _json_safe(cfg)})
        tmp = self.root / "models" / f".{mid}.tmp{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=False)
        (tmp / "model.onnx").write_bytes(onnx_bytes)
        if sb:
            (tmp / "state.npz").write_bytes(sb)
        (tmp / "meta.json").write_bytes(orjson.dumps(v.to_json(), option=orjson.OPT_INDENT_2))
        tmp.rename(d)                       # atomic: a version is complete or absent
        return v

    # -- reading -----------------------------------------------------------------------------
    def _dir(self, model_id: str) -> Path:
        d = self.root / "models" / model_id
        if not (d / "meta.json").is_file():
            known = ", ".join(self.ids()[:10]) or "none"
            raise RegistryError(f"model {model_id!r} is not in the registry at {self.root} "
                                f"(known: {known})")
        return d

    def ids(self) -> list[str]:
        return sorted(p.name for p in (self.root / "models").iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def get(self, model_id: str) -> ModelVersion:
        return ModelVersion.from_json(orjson.loads((self._dir(model_id) / "meta.json").read_bytes()))

    def list(self) -> list[ModelVersion]:
        return sorted((self.get(i) for i in self.ids()), key=lambda v: v.created_ns)

    def onnx_bytes(self, model_id: str) -> bytes:
        return (self._dir(model_id) / "model.onnx").read_bytes()

    def state(self, model_id: str) -> dict[str, np.ndarray] | None:
        p = self._dir(model_id) / "state.npz"
        if not p.is_file():
            return None
        with np.load(p) as z:
            return {k: z[k] for k in z.files}

    def verify(self, model_id: str) -> None:
        """Re-hash the stored files; raise when they no longer match the recorded hash."""
        d, v = self._dir(model_id), self.get(model_id)
        sp = d / "state.npz"
        h = _hash((d / "model.onnx").read_bytes(), sp.read_bytes() if sp.is_file() else b"",
                  v.extra.get("config", {}))
        if h != v.content_hash:
            raise RegistryError(f"model {model_id!r}: content hash {h[:12]} does not match the "
                                f"registered {v.content_hash[:12]}; the files were modified")

    def check_schema(self, model_id: str, pipeline_schema: dict[str, Any]) -> ModelVersion:
        v = self.get(model_id)
        want = _json_safe(pipeline_schema)
        if schema_hash(v.feature_schema) != schema_hash(want):
            raise SchemaMismatch(f"model {model_id!r} was trained on a different feature schema "
                                 f"than the running pipeline: "
                                 f"{schema_diff(v.feature_schema, want)}. Retrain the model on "
                                 f"this pipeline or run the pipeline it was trained with.")
        return v

    def load(self, model_id: str, pipeline_schema: dict[str, Any], **kw):
        """The model as an `OnnxModel` (warmed up), after the hash and schema checks."""
        from tradecore.ml.inference import OnnxModel
        v = self.check_schema(model_id, pipeline_schema)
        self.verify(model_id)
        return OnnxModel(self.onnx_bytes(model_id), model_id, output=v.output, **kw)

    def load_mlp(self, model_id: str):
        from tradecore.ml.mlp import MLP
        v = self.get(model_id)
        st = self.state(model_id)
        if st is None or v.kind not in ("mlp", "online-mlp"):
            raise RegistryError(f"model {model_id!r} is a {v.kind!r} model without MLP weights")
        return MLP.from_state(v.extra["config"], st)

    # -- aliases -----------------------------------------------------------------------------
    def _aliases(self) -> dict[str, Any]:
        p = self.root / "aliases.json"
        if p.is_file():
            return orjson.loads(p.read_bytes())
        return {"champion": None, "challenger": None, "history": []}

    def _save_aliases(self, a: dict[str, Any]) -> None:
        p = self.root / "aliases.json"
        tmp = p.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(a, option=orjson.OPT_INDENT_2))
        tmp.replace(p)

    def champion(self) -> str | None:
        return self._aliases()["champion"]

    def challenger(self) -> str | None:
        return self._aliases()["challenger"]

    def history(self) -> list[dict[str, Any]]:
        return list(self._aliases()["history"])

    def set_challenger(self, model_id: str | None) -> None:
        a = self._aliases()
        if model_id is not None:
            self._dir(model_id)
        a["history"].append({"ts_ns": time.time_ns(), "action": "challenger",
                             "model": model_id, "previous": a["challenger"]})
        a["challenger"] = model_id
        self._save_aliases(a)

    def promote(self, model_id: str | None = None, reason: str = "") -> str:
        """Make `model_id` (default: the challenger) the champion."""
        a = self._aliases()
        mid = model_id or a["challenger"]
        if mid is None:
            raise RegistryError("promote: no model id given and no challenger set")
        self._dir(mid)
        if mid == a["champion"]:
            raise RegistryError(f"promote: {mid!r} is already the champion")
        a["history"].append({"ts_ns": time.time_ns(), "action": "promote", "model": mid,
                             "previous": a["champion"], "reason": reason})
        a["champion"] = mid
        if a["challenger"] == mid:
            a["challenger"] = None
        self._save_aliases(a)
        return mid

    def rollback(self, reason: str = "") -> str:
        """Undo the last promotion: the previous champion is champion again."""
        a = self._aliases()
        undone = {h["undoes"] for h in a["history"] if h["action"] == "rollback"}
        for i in range(len(a["history"]) - 1, -1, -1):
            h = a["history"][i]
            if h["action"] == "promote" and i not in undone and h["model"] == a["champion"]:
                if h["previous"] is None:
                    raise RegistryError("rollback: the champion was the first one; there is no "
                                        "previous champion to return to")
                a["history"].append({"ts_ns": time.time_ns(), "action": "rollback",
                                     "model": h["previous"], "previous": a["champion"],
                                     "undoes": i, "reason": reason})
                a["champion"] = h["previous"]
                self._save_aliases(a)
                return h["previous"]
        raise RegistryError("rollback: no promotion to undo")
