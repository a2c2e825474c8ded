"""boto3 against cells' S3 at /io, for crates/cli/tests/it/s3.rs.

Reads one JSON document on stdin:

    {"endpoint": "http://127.0.0.1:PORT", "key": TOKEN, "secret": "gatewaysecret",
     "style": "path" | "virtual", "steps": [{"op": NAME, "params": {...}}, ...]}

and prints one JSON line per step: {"ok": true, "result": ...} or
{"ok": false, "status": 403, "code": "AccessDenied", "message": "..."}.

An op is a boto3 client method (put_object, list_objects_v2, ...), with three
changes: a str `Body` is sent as UTF-8; a get_object answer carries `Body` (text, when
short), `Length` and `Sha256` of what was read; and `tamper: true` in a step changes
the body after signing (a payload that does not match its signed hash). The ops
`upload_file` / `download_file` (boto3's transfer manager, multipart above 8 MiB) take
`Filename`, `Bucket`, `Key`; `presign` gives a presigned GET URL of `Key`.

"virtual" addresses the bucket as a host name (io.localhost:PORT), as the Go SDK of
Cells does for a named host; the name is resolved to 127.0.0.1 here, so nothing but
loopback is ever a target.
"""

import hashlib
import json
import socket
import sys

import boto3
import botocore.config
import botocore.exceptions
from boto3.s3.transfer import TransferConfig

_resolve = socket.getaddrinfo


def _loopback(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _resolve(host, *args, **kwargs)


socket.getaddrinfo = _loopback


def plain(value):
    """What json.dumps can print: datetimes as text, bytes as their length."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def client(doc):
    style = doc.get("style", "path")
    endpoint = doc["endpoint"]
    if style == "virtual":
        endpoint = endpoint.replace("127.0.0.1", "localhost")
    config = botocore.config.Config(
        signature_version="s3v4",
        s3={"addressing_style": style},
        retries={"max_attempts": 1},
        # A stalled answer fails the step rather than the test's patience (botocore
        # stalls after an empty upload on servers that send no 100 Continue for it).
        read_timeout=10,
        # Checksums only when an operation requires them (as older SDKs do).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=doc["key"],
        aws_secret_access_key=doc.get("secret", "gatewaysecret"),
        region_name="us-east-1",
        config=config,
    )


def run(s3, step):
    op, params = step["op"], dict(step.get("params", {}))
    if "Body" in params and isinstance(params["Body"], str):
        params["Body"] = params["Body"].encode()
    if op == "upload_file":
        s3.upload_file(params["Filename"], params["Bucket"], params["Key"], Config=TransferConfig())
        return {}
    if op == "download_file":
        s3.download_file(params["Bucket"], params["Key"], params["Filename"], Config=TransferConfig())
        return {}
    if op == "presign":
        return s3.generate_presigned_url("get_object", Params=params, ExpiresIn=600)
    if step.get("tamper"):
        def tamper(request, **_):
            body = request.body.read() if hasattr(request.body, "read") else request.body or b""
            request.body = b"X" + body[1:]
            request.headers["Content-Length"] = str(len(request.body))

        s3.meta.events.register_first("before-send.s3.*", tamper)
    try:
        answer = getattr(s3, op)(**params)
    finally:
        if step.get("tamper"):
            s3.meta.events.unregister("before-send.s3.*", tamper)
    if op == "get_object":
        body = answer["Body"].read()
        answer["Body"] = body.decode("utf-8", "replace") if len(body) <= 4096 else None
        answer["Length"] = len(body)
        answer["Sha256"] = hashlib.sha256(body).hexdigest()
    return plain(answer)


def main():
    doc = json.load(sys.stdin)
    s3 = client(doc)
    for step in doc["steps"]:
        try:
            line = {"ok": True, "result": run(s3, step)}
        except botocore.exceptions.ClientError as e:
            error = e.response.get("Error", {})
            line = {
                "ok": False,
                "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                "code": error.get("Code"),
                "message": error.get("Message"),
            }
        print(json.dumps(line), flush=True)


main()
