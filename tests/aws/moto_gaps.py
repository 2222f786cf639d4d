"""Proxy hooks that make moto answer like real AWS where moto is known to differ.

* `deleted_secret_guard`: real Secrets Manager refuses `PutSecretValue` on a secret that is
  scheduled for deletion (InvalidRequestException, "...because it was marked for deletion.");
  moto 5 accepts the write. The hook asks moto (DescribeSecret, not counted by the proxy)
  whether the secret is pending deletion and, if so, answers as AWS does.
* `paginate_version_ids`: moto ignores MaxResults on ListSecretVersionIds; AWS pages.
* `missing_secret_guard`: moto 5 crashes (HTTP 500, KeyError) on `ListSecretVersionIds` of a
  secret that does not exist; AWS answers ResourceNotFoundException.

`aws_like_hooks(upstream)` returns all of them. Not a proxy hook but a patch of moto itself, in the
process that runs it: `honour_describe_parameters_max_results` (moto pages SSM `DescribeParameters`
by 10 whatever `MaxResults` says; AWS honours up to 50).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

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


# Secrets Manager operations addressed to one secret (SecretId in the body)
_SECRET_OPS = {
    "GetSecretValue",
    "DescribeSecret",
    "ListSecretVersionIds",
    "PutSecretValue",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "DeleteSecret",
    "RestoreSecret",
    "TagResource",
    "UntagResource",
    "RotateSecret",
    "ReplicateSecretToRegions",
    "RemoveRegionsFromReplication",
}
SEED_TAG_KEYS = {"ManagedBy", "Namespace", "Stage", "VaultSlug"}


def tag_policy(upstream: str, namespace: str = "myapp") -> Hook:
    """A small stand-in for the seed's "Full Developer Access" policy, as real AWS evaluates
    it: calls on one secret need `ResourceTag/Namespace = namespace` (a secret that does not
    exist has no tags, so AWS answers AccessDeniedException, not ResourceNotFound), and
    CreateSecret needs `RequestTag/Namespace = namespace` with no tag keys beyond the seed's
    four. ListSecrets and BatchGetSecretValue are allowed account-wide."""

    def deny(request: ProxyRequest, action: str) -> ProxyResponse:
        return ProxyResponse.aws_error(
            request,
            400,
            "AccessDeniedException",
            f"User: arn:aws:iam::123456789012:user/fake-dev is not authorized to perform: "
            f"secretsmanager:{action} because no identity-based policy allows the secretsmanager:{action} action",
        )

    def hook(request: ProxyRequest) -> ProxyResponse | None:
        op = request.operation
        if not isinstance(request.json, dict) or request.service != "secretsmanager":
            return None
        if op == "CreateSecret":
            tags = {str(t.get("Key")): str(t.get("Value")) for t in request.json.get("Tags") or []}
            if tags.get("Namespace") != namespace or not set(tags) <= SEED_TAG_KEYS:
                return deny(request, op)
            return None
        if op in _SECRET_OPS:
            described = _describe(upstream, request, str(request.json.get("SecretId", "")))
            tags = {str(t.get("Key")): str(t.get("Value")) for t in (described or {}).get("Tags") or []}  # type: ignore[union-attr]
            if tags.get("Namespace") != namespace:
                return deny(request, op)
        return None

    return hook


def paginate_version_ids(forward: Callable[[ProxyRequest], ProxyResponse]) -> Hook:
    """moto 5 ignores MaxResults on ListSecretVersionIds and returns every version at once;
    AWS pages them. This hook pages moto's full answer (NextToken = the next index)."""

    def hook(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation != "ListSecretVersionIds" or not isinstance(request.json, dict):
            return None
        size = int(request.json.get("MaxResults") or 100)
        start = int(request.json.get("NextToken") or 0)
        inner = dict(request.json)
        inner.pop("NextToken", None)
        inner.pop("MaxResults", None)
        body = json.dumps(inner).encode()
        answer = forward(dataclasses.replace(request, body=body, json=inner))
        if answer.status != 200:
            return answer
        data = json.loads(answer.body)
        versions = data.get("Versions", [])
        data["Versions"] = versions[start : start + size]
        if start + size < len(versions):
            data["NextToken"] = str(start + size)
        else:
            data.pop("NextToken", None)
        return ProxyResponse(200, json.dumps(data).encode(), {"Content-Type": "application/x-amz-json-1.1"})

    return hook


def honour_describe_parameters_max_results() -> None:
    """moto 5 answers SSM `DescribeParameters` 10 parameters per page whatever `MaxResults`
    says; AWS honours it (1-50). Patches moto's response class in this process (idempotent):
    the tests' in-process moto server and the bench's moto process call it, so a listing of N
    parameters costs ceil(N/50) pages there as it does on AWS. Throttling and other faults of
    the proxy still apply (nothing is answered by a hook)."""
    from moto.core.responses import ActionResult
    from moto.ssm.responses import SimpleSystemManagerResponse

    if getattr(SimpleSystemManagerResponse, "_keep_max_results", False):
        return

    def describe_parameters(self: Any) -> Any:
        page_size = max(1, min(int(self._get_param("MaxResults") or 10), 50))
        token = str(self._get_param("NextToken") or "0").strip() or "0"
        start = int(token)
        result = self.ssm_backend.describe_parameters(self._get_param("Filters"), self._get_param("ParameterFilters"))
        page = result[start : start + page_size]
        response: dict[str, Any] = {"Parameters": [p.describe_response_object(False) for p in page]}
        if start + page_size < len(result):
            response["NextToken"] = str(start + page_size)
        return ActionResult(response)

    SimpleSystemManagerResponse.describe_parameters = describe_parameters  # type: ignore[method-assign]
    SimpleSystemManagerResponse._keep_max_results = True  # type: ignore[attr-defined]
