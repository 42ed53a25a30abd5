"""A simulated Together AI files and fine-tuning API for the real ``together`` SDK.

``get_client()`` returns a real ``together.Together`` client. With ``TOGETHER_API_KEY`` set it talks
to the live API; without it, the SDK is given an HTTP transport that never touches the network, so
its own upload protocol (``POST /v1/files`` answered by a redirect to a presigned URL, the ``PUT``
of the file, ``POST /v1/files/{id}/preprocess``) and fine-tuning calls run offline:

- an uploaded training file must be Together's chat format: one JSON object per line with a
  ``messages`` list of ``{"role", "content"}``, roles ``system`` (first, optional), then ``user``
  and ``assistant`` alternating from ``user``, ending with ``assistant``, contents non-empty text;
  any other file is refused at the ``PUT`` (HTTP 400 naming the line), so the SDK raises;
- ``GET /v1/fine-tunes/models/limits`` knows only ``Qwen/Qwen3-32B`` (HTTP 404 for others), and
  ``POST /v1/fine-tunes`` needs a file uploaded here as ``training_file`` and ``1 <= n_epochs <=
  20``; a job gets an id fixed by its parameters and starts ``pending``;
- ``GET /v1/fine-tunes/{id}`` returns a job created in this folder (it reads the log), its status
  moving ``pending`` -> ``queued`` -> ``running`` -> ``completed`` with each retrieval.

Every request served is appended to ``.simulated_together_requests.jsonl`` in the current directory:
``{"call", "method", "path", "status", "body"}`` (``body``: the JSON payload, or for a ``PUT`` the
uploaded file's ``sha256`` and ``lines``; ``file_id`` / ``job_id`` where one is involved).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from . import simulation

UPLOAD_HOST = "uploads.together-sim.example"
REQUEST_LOG = ".simulated_together_requests.jsonl"
SIMULATED_API_KEY = "simulated-together-key"
FINETUNE_MODELS = ("Qwen/Qwen3-32B",)
CREATED_AT = "2026-01-01T00:00:00Z"
STATUSES = ("pending", "queued", "running", "completed")
_state: dict[str, Any] = {"calls": 0, "files": {}}


def is_simulated() -> bool:
    """Whether ``get_client()`` returns the simulated client (no ``TOGETHER_API_KEY``)."""
    return not os.environ.get("TOGETHER_API_KEY")


def check_training_file(data: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The examples of a training file in Together's chat format, and the first problem (or None)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], "the file is not UTF-8"
    examples: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except ValueError:
            return examples, f"line {number}: not valid JSON"
        messages = example.get("messages") if isinstance(example, dict) else None
        if not isinstance(messages, list) or not messages:
            return examples, f"line {number}: needs a non-empty 'messages' list"
        roles = []
        for message in messages:
            if not isinstance(message, dict) or set(message) - {"role", "content", "weight"}:
                return examples, f"line {number}: each message needs exactly 'role' and 'content'"
            if not isinstance(message.get("content"), str) or not message["content"].strip():
                return examples, f"line {number}: every message needs a non-empty text 'content'"
            roles.append(message.get("role"))
        body = roles[1:] if roles[0] == "system" else roles
        expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(body))]
        if not body or body != expected or body[-1] != "assistant":
            return examples, (
                f"line {number}: roles must be an optional system message, then user and assistant "
                f"alternating from user and ending with assistant, got {roles}"
            )
        examples.append(example)
    if not examples:
        return examples, "the file holds no examples"
    return examples, None


def file_id_of(data: bytes, name: str) -> str:
    return "file-" + hashlib.sha256(name.encode() + b"\0" + data).hexdigest()[:24]


def job_id_of(payload: dict[str, Any]) -> str:
    return "ft-" + simulation.digest(payload)[:24]


def model_limits(model: str) -> dict[str, Any]:
    return {
        "model_name": model,
        "default_gradient_accumulation_steps": 1,
        "lora_training": {
            "default_rank": 64,
            "max_batch_size": 16,
            "max_batch_size_dpo": 8,
            "max_rank": 64,
            "min_batch_size": 8,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
        },
        "full_training": {"max_batch_size": 16, "max_batch_size_dpo": 8, "min_batch_size": 8},
        "max_learning_rate": 1.0,
        "min_learning_rate": 1e-8,
        "max_num_checkpoints": 20,
        "max_num_epochs": 20,
        "max_num_evals": 20,
        "max_seq_length_dpo": 16384,
        "max_seq_length_sft": 32768,
        "min_max_seq_length": 1024,
        "merge_output_lora": False,
        "supports_full_training": True,
        "supports_reasoning": True,
        "supports_tools": False,
        "supports_vision": False,
    }


def job(payload: dict[str, Any], status: str) -> dict[str, Any]:
    """The fine-tuning job JSON of a creation payload, in ``status``."""
    ident = job_id_of(payload)
    suffix = payload.get("suffix")
    output = f"simulated/{payload['model'].split('/')[-1]}" + (f"-{suffix}" if suffix else "") + f"-{ident[3:11]}"
    return {
        "id": ident,
        "object": "fine-tune",
        "status": status,
        "model": payload["model"],
        "training_file": payload["training_file"],
        "n_epochs": payload.get("n_epochs"),
        "suffix": suffix,
        "model_output_name": output,
        "adapter_output_name": None,
        "created_at": CREATED_AT,
        "updated_at": CREATED_AT,
        "events": [],
    }


def _logged() -> list[dict[str, Any]]:
    try:
        lines = Path(REQUEST_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _known_file(file_id: str) -> bool:
    if file_id in _state["files"]:
        return True
    return any(e.get("file_id") == file_id and e.get("method") == "PUT" and e.get("status") == 200 for e in _logged())


def _error(status: int, message: str) -> Any:
    import httpx

    return httpx.Response(status, json={"error": {"message": message, "type": "invalid_request_error"}})


def _respond(request: Any, call: int) -> tuple[Any, dict[str, Any]]:
    import httpx

    method, path, host = request.method, request.url.path.rstrip("/"), request.url.host
    entry: dict[str, Any] = {"call": call, "method": method, "path": path}
    if host == UPLOAD_HOST and method == "PUT":
        file_id = path.rsplit("/", 1)[-1]
        data = request.read()
        examples, problem = check_training_file(data)
        entry.update(file_id=file_id, body={"sha256": hashlib.sha256(data).hexdigest(), "lines": len(examples)})
        if problem is not None:
            return _error(400, f"invalid training file: {problem}"), entry
        _state["files"][file_id] = {"bytes": len(data), "lines": len(examples)}
        return httpx.Response(200), entry
    if method == "POST" and path == "/v1/files":
        fields = _form_fields(request)
        entry["body"] = fields
        if fields.get("purpose") != "fine-tune" or not fields.get("file_name"):
            return _error(400, "purpose must be 'fine-tune' and file_name is required"), entry
        file_id = "file-" + simulation.digest(fields)[:24]
        entry["file_id"] = file_id
        headers = {"Location": f"https://{UPLOAD_HOST}/presigned/{file_id}", "X-Together-File-Id": file_id}
        _state["files"].setdefault(file_id, None)
        _state.setdefault("names", {})[file_id] = fields["file_name"]
        return httpx.Response(302, headers=headers), entry
    if method == "POST" and path.startswith("/v1/files/") and path.endswith("/preprocess"):
        file_id = path.split("/")[3]
        entry["file_id"] = file_id
        info = _state["files"].get(file_id)
        if info is None:
            return _error(404, f"file {file_id} was never uploaded"), entry
        answer = {
            "id": file_id,
            "object": "file",
            "bytes": info["bytes"],
            "created_at": 1_767_225_600,
            "filename": _state.get("names", {}).get(file_id, "train.jsonl"),
            "FileType": "jsonl",
            "purpose": "fine-tune",
            "processed": True,
            "LineCount": info["lines"],
        }
        return httpx.Response(200, json=answer), entry
    if method == "GET" and path == "/v1/fine-tunes/models/limits":
        model = parse_qs(request.url.query.decode() if isinstance(request.url.query, bytes) else request.url.query)
        name = (model.get("model_name") or [""])[0]
        entry["body"] = {"model_name": name}
        if name not in FINETUNE_MODELS:
            return _error(404, f"model {name!r} is not available for fine-tuning"), entry
        return httpx.Response(200, json=model_limits(name)), entry
    if method == "POST" and path == "/v1/fine-tunes/estimate-price":
        entry["body"] = json.loads(request.content or b"{}")
        return httpx.Response(200, json={"estimated_total_price": 0.0, "allowed_to_proceed": True}), entry
    if method == "POST" and path == "/v1/fine-tunes":
        payload = json.loads(request.content or b"{}")
        entry["body"] = payload
        if not isinstance(payload, dict) or payload.get("model") not in FINETUNE_MODELS:
            return _error(400, f"model must be one of {', '.join(FINETUNE_MODELS)}"), entry
        if not isinstance(payload.get("training_file"), str) or not _known_file(payload["training_file"]):
            return _error(400, f"training_file {payload.get('training_file')!r} was not uploaded"), entry
        epochs = payload.get("n_epochs")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 20:
            return _error(400, "n_epochs must be an integer from 1 to 20"), entry
        answer = job(payload, "pending")
        entry["job_id"] = answer["id"]
        return httpx.Response(200, json=answer), entry
    if method == "GET" and path.startswith("/v1/fine-tunes/"):
        ident = path.rsplit("/", 1)[-1]
        entry["job_id"] = ident
        logged = _logged()
        created = [e for e in logged if e.get("method") == "POST" and e.get("path") == "/v1/fine-tunes"]
        created = [e for e in created if e.get("job_id") == ident and e.get("status") == 200]
        if not created:
            return _error(404, f"no fine-tuning job {ident}"), entry
        retrieved = sum(1 for e in logged if e.get("method") == "GET" and e.get("job_id") == ident)
        status = STATUSES[min(len(STATUSES) - 1, retrieved + 1)]
        return httpx.Response(200, json=job(created[-1]["body"], status)), entry
    return _error(404, f"the simulator does not serve {method} {path}"), entry


def _form_fields(request: Any) -> dict[str, str]:
    """The text fields of a multipart/form-data body."""
    content_type = request.headers.get("content-type", "")
    if "boundary=" not in content_type:
        return {}
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields = {}
    for part in request.content.split(b"--" + boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        marker = b'name="'
        if marker in head:
            name = head.split(marker, 1)[1].split(b'"', 1)[0].decode()
            fields[name] = value.rstrip(b"\r\n").decode("utf-8", errors="replace")
    return fields


def _handle(request: Any) -> Any:
    _state["calls"] += 1
    response, entry = _respond(request, _state["calls"])
    entry["status"] = response.status_code
    simulation.append_log(REQUEST_LOG, entry)
    return response


def get_client(*, simulated: bool | None = None, **kwargs: Any) -> Any:
    """A ``together.Together`` client: live with ``TOGETHER_API_KEY``, simulated otherwise."""
    import together

    if simulated is None:
        simulated = is_simulated()
    if not simulated:
        return together.Together(**kwargs)
    import httpx

    kwargs.setdefault("max_retries", 0)
    return together.Together(
        api_key=SIMULATED_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(_handle)),
        **kwargs,
    )
