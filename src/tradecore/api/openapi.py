"""The OpenAPI 3.0 document, generated from the route table (server.ROUTES).

Error responses share one schema ({"error": reason}); write routes declare the bearer token and
the 401/403 answers; every route may answer 401 when the API is bound to a non-loopback address
(reads then need the token too).
"""
from __future__ import annotations

from typing import Any

__all__ = ["openapi", "validate"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_TEXT = {401: "missing or wrong token", 403: "writes need a configured token",
         400: "refused: the reason says what and why; nothing was changed",
         404: "no such strategy", 409: "conflicts with the current state",
         503: "not ready (the reasons are listed)"}


_INT = {"type": "integer", "minimum": 0, "maximum": 2**62 - 1}
_MONEY = {"type": "number", "minimum": 0}
# 0 (no throttle) or a rate whose period fits int64 ns (risk/limits.py _rate)
_RATE = {"type": "number", "maximum": 1e9, "anyOf": [{"enum": [0]}, {"minimum": 1e-9}]}
PORTFOLIO_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {"max_gross_notional": _MONEY, "max_net_notional": _MONEY,
                   "max_orders_per_sec": _RATE,
                   "order_burst": {**_INT, "minimum": 1},
                   "max_cancels_per_sec": _RATE,
                   "cancel_burst": {**_INT, "minimum": 1},
                   "require_balance": {"type": "boolean"}}}
SYMBOL_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {"max_order_lots": _INT, "max_order_notional": _MONEY,
                   "max_position_lots": _INT, "max_notional": _MONEY,
                   "price_band": {"type": "number", "minimum": 0, "maximum": 10},
                   "max_mid_age_ns": _INT}}


def risk_body(instruments: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {"portfolio": PORTFOLIO_SCHEMA,
                           "symbols": {"type": "object", "additionalProperties": False,
                                       "properties": {k: SYMBOL_SCHEMA for k in instruments}}}}


def settings_body(settings: dict[str, Any]) -> dict[str, Any]:
    """The runtime-changeable settings of the running strategies (by their default's type)."""
    props = {}
    for k, v in settings.items():
        if isinstance(v, bool):
            props[k] = {"type": "boolean"}
        elif isinstance(v, int):
            # depth: levels walked per side (the detectors' buffers are sized by it)
            props[k] = {"type": "integer", "minimum": 1 if k == "depth" else 0,
                        "maximum": 1000 if k == "depth" else 2**62 - 1}
        elif isinstance(v, float):
            props[k] = {"type": "number", "minimum": 0}
    return {"type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": props}


def openapi(routes, *, bodies: dict[str, dict] | None = None,
            enums: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """`bodies`: request schemas by handler name that replace the route's generic one (the
    node's instruments and strategies make them precise); `enums`: path parameter values."""
    bodies = bodies or {}
    enums = enums or {}
    paths: dict[str, dict] = {}
    for r in routes:
        op: dict[str, Any] = {"operationId": r.handler, "summary": r.summary, "tags": [r.tag]}
        params = []
        if "{strategy_id}" in r.path:
            sch = {"type": "string"}
            if enums.get("strategy_id"):
                sch["enum"] = enums["strategy_id"]
            params.append({"name": "strategy_id", "in": "path", "required": True,
                           "schema": sch})
        for name, schema in r.query:
            params.append({"name": name, "in": "query", "required": False, "schema": schema})
        if params:
            op["parameters"] = params
        if r.body is not None:
            body = bodies.get(r.handler, r.body)
            op["requestBody"] = {"required": bool(body.get("minProperties")),
                                 "content": {"application/json": {"schema": body}}}
        ok_status = "200"
        responses: dict[str, Any] = {
            ok_status: {"description": "OK", "content": {r.content: {"schema": r.response}}}}
        errors = set(r.errors) | {401}
        if r.write:
            errors |= {401, 403}
            op["security"] = [{"bearer": []}]
        for code in sorted(errors):
            if code == 503 and r.handler == "ready":
                responses["503"] = {"description": _TEXT[503], "content": {
                    "application/json": {"schema": r.response}}}
                continue
            responses[str(code)] = {"description": _TEXT.get(code, "error"),
                                    "content": {"application/json": {"schema": _ERROR}}}
        op["responses"] = responses
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "tradecore API", "version": "1",
                 "description": "Operate a running tradecore node (docs/operations.md). "
                                "WebSocket stream at /ws; dashboard at /."},
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error"],
                                  "properties": {"error": {"type": "string"}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
          "object": (dict,), "array": (list,)}


def validate(schema: dict[str, Any], value: Any, where: str = "body") -> str | None:
    """Why `value` breaks `schema` (the subset of JSON Schema the request bodies use), or None.
    The server enforces the published request schemas with this, so the schema is the contract
    and the fuzz test can hold the server to it."""
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        ok = False
        for t in types:
            if t in ("integer", "number") and isinstance(value, bool):
                continue
            if t == "integer" and isinstance(value, float) and value.is_integer():
                ok = True
            if isinstance(value, _TYPES[t]):
                ok = True
        if not ok:
            return f"{where}: expected {' or '.join(types)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: expected one of {schema['enum']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where} = {value}: expected >= {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where} = {value}: expected <= {schema['maximum']}"
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        return f"{where}: at most {schema['maxLength']} characters"
    if isinstance(value, dict):
        if len(value) < schema.get("minProperties", 0):
            return f"{where}: expected at least {schema['minProperties']} field(s)"
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                sub = props[k]
            elif extra is False:
                return f"{where}: unknown field {k!r}; expected {sorted(props)}"
            elif isinstance(extra, dict):
                sub = extra
            else:
                continue
            why = validate(sub, v, f"{where}.{k}")
            if why:
                return why
    return None
