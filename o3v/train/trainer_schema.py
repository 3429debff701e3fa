"""The Kubeflow Trainer CRDs' OpenAPI schemas, from the SDK's generated models, and a strict validator.

Source: `kubeflow-trainer-api` (PyPI, pinned through `kubeflow`), the pydantic models OpenAPI Generator makes
from Kubeflow Trainer's released OpenAPI spec (`trainer.kubeflow.org/v1alpha1`, with the JobSet and core v1
types they embed). Nothing here is written by hand except two adjustments of how the generator models
`oneOf` types (a Quantity is a string or a number, an IntOrString an integer or a string) and one strictness
rule the API server applies to structural schemas: unknown fields are errors (`additionalProperties: false`);
`null` is not accepted for an optional field (leave it out).

    >>> validate({"apiVersion": API_VERSION, "kind": "TrainJob", "metadata": {"name": "x"},
    ...           "spec": {"runtimeRef": {"name": "o3v-torch"}, "trainer": {"numNodes": "2"}}})
    ["spec.trainer.numNodes: '2' is not of type 'integer'"]
"""

from __future__ import annotations

import copy
import functools
from typing import Any

API_VERSION = "trainer.kubeflow.org/v1alpha1"
MODELS = {
    "TrainJob": "TrainerV1alpha1TrainJob",
    "ClusterTrainingRuntime": "TrainerV1alpha1ClusterTrainingRuntime",
    "TrainingRuntime": "TrainerV1alpha1TrainingRuntime",
}
ONE_OF = {
    "IoK8sApimachineryPkgApiResourceQuantity": {"type": ["string", "number"]},
    "IoK8sApimachineryPkgUtilIntstrIntOrString": {"type": ["integer", "string"]},
}


def _closed(node: Any) -> Any:
    """Every object schema with declared properties rejects undeclared ones; `X or null` (pydantic's optional
    field) becomes X: an optional field is left out, and errors then name the field instead of the union."""
    if isinstance(node, dict):
        options = node.get("anyOf")
        if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            rest = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
            node = {**rest, **next(o for o in options if o != {"type": "null"})}
        out = {k: _closed(v) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


@functools.cache
def schema(kind: str) -> dict[str, Any]:
    """The JSON schema of one Trainer kind (`TrainJob`, `ClusterTrainingRuntime`, `TrainingRuntime`)."""
    if kind not in MODELS:
        raise ValueError(f"no Trainer schema for kind {kind!r}; known: {sorted(MODELS)}")
    from kubeflow_trainer_api import models

    raw = copy.deepcopy(getattr(models, MODELS[kind]).model_json_schema(by_alias=True))
    raw["$defs"].update(ONE_OF)
    out = _closed(raw)
    out["required"] = sorted({*out.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    out["properties"]["apiVersion"] = {"const": API_VERSION}
    out["properties"]["kind"] = {"const": kind}
    return out


def validate(obj: dict[str, Any]) -> list[str]:
    """Schema errors of a Trainer object as `path: message` lines (empty when it is valid)."""
    import jsonschema

    kind = obj.get("kind")
    if kind not in MODELS:
        return [f"kind: {kind!r} is not a Trainer kind ({sorted(MODELS)})"]
    validator = jsonschema.Draft202012Validator(schema(kind))
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]
