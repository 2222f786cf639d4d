"""Proxy hooks that make moto answer like real AWS where moto is known to differ.

* `deleted_secret_guard`: real Secrets Manager refuses `PutSecretValue` on a secret that is
  scheduled for deletion (InvalidRequestException, "...because it was marked for deletion.");
  moto 5 accepts the write. The hook asks moto (DescribeSecret, not counted by the proxy)
  whether the secret is pending deletion and, if so, answers as AWS does.
* `missing_secret_guard`: moto 5 crashes (HTTP 500, KeyError) on `ListSecretVersionIds` of a
  secret that does not exist; AWS answers ResourceNotFoundException.

`aws_like_hooks(upstream)` returns all of them.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse

from tests.aws.proxy import Hook, ProxyRequest, ProxyResponse


def _describe(upstream: str, request: ProxyRequest, secret_id: str) -> dict[str, object] | None:
    """DescribeSecret straight to moto; None when moto does not know the secret."""
    parsed = urllib.parse.urlsplit(upstream)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
    try:
        body = json.dumps({"SecretId": secret_id}).encode()
        headers = {
            "X-Amz-Target": "secretsmanager.DescribeSecret",
            "Content-Type": "application/x-amz-json-1.1",
            # moto routes by the SigV4 credential scope (region/service); it checks no signature
            "Authorization": request.headers.get("Authorization", ""),
            "Content-Length": str(len(body)),
        }
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            return None
        described: dict[str, object] = json.loads(data)
        return described
    finally:
        conn.close()


def deleted_secret_guard(upstream: str) -> Hook:
    def hook(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation != "PutSecretValue" or not isinstance(request.json, dict):
            return None
        described = _describe(upstream, request, str(request.json.get("SecretId", "")))
        if described is not None and described.get("DeletedDate"):
            return ProxyResponse.aws_error(
                request,
                400,
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion.",
            )
        return None

    return hook


def missing_secret_guard(upstream: str) -> Hook:
    def hook(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation != "ListSecretVersionIds" or not isinstance(request.json, dict):
            return None
        if _describe(upstream, request, str(request.json.get("SecretId", ""))) is None:
            return ProxyResponse.aws_error(
                request, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
            )
        return None

    return hook


def aws_like_hooks(upstream: str) -> list[Hook]:
    return [deleted_secret_guard(upstream), missing_secret_guard(upstream)]
