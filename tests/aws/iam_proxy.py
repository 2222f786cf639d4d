"""IAM emulation for the AWS test proxy: every Secrets Manager and SSM request is evaluated
under an identity policy (with `tests/iam/evaluator.py`) the way AWS would, before moto sees it.

Plug it in with `Proxy(moto, hooks=[emulator])` after `emulator = IamEmulator(moto)`, or
`emulator.attach(proxy)` on a started proxy; set `emulator.policy` (a policy document, a list
of them, or None for "no IAM": everything allowed, handy to seed data). Every decision is
recorded in `emulator.decisions`, so a test can also prove *which* calls a command made and
that each one was allowed.

What it models, as AWS documents it:

* Secrets Manager: the resource is the secret's ARN, looked up in moto together with its tags
  (`secretsmanager:ResourceTag/*`, `aws:ResourceTag/*`). A secret that does not exist has no
  tags, so under tag-conditioned policies the call is denied rather than "not found" - what
  real AWS answers. Tags in `CreateSecret`/`TagResource` become `aws:RequestTag/*` and
  `aws:TagKeys` (`UntagResource`: the removed keys).
* `CreateSecret` with tags also needs `secretsmanager:TagResource` (AWS: "If you include tags
  in the secret, you also need secretsmanager:TagResource"), evaluated with the new secret's
  tags as both resource and request tags; with `AddReplicaRegions` it also needs
  `secretsmanager:ReplicateSecretToRegions`.
* `ListSecrets` and `BatchGetSecretValue` are checked on `*`; `BatchGetSecretValue` by
  `Filters` also needs `ListSecrets`. Each secret in a batch answer additionally needs
  `GetSecretValue` on that secret: denied ones move from `SecretValues` to `Errors` as
  `AccessDeniedException`, as AWS does.
* SSM: the resource is `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME` (a `:version`/`:label`
  selector is not part of it); `GetParametersByPath` is authorised against the path ARN itself;
  `GetParameters`/`DeleteParameters` need the action on every name; `PutParameter` with tags
  also needs `ssm:AddTagsToResource`.
* KMS: a customer managed key used by a call (`KmsKeyId`/`KeyId` in the request, or the key
  recorded on the secret or on the SecureString parameters a read decrypts) needs the KMS
  action on the key's ARN (Secrets Manager: GenerateDataKey to write, Decrypt to read; SSM:
  Encrypt for Standard and GenerateDataKey for Advanced parameters, Decrypt to read), with `kms:ViaService` and
  `kms:ResourceAliases` in the context. AWS managed keys (`alias/aws/secretsmanager`,
  `alias/aws/ssm`) need no IAM grant (their key policy allows use through the service), so
  they are not checked.
* Denials are answered as AWS answers them: HTTP 400 with the JSON body
  `{"__type": "AccessDeniedException", "message": "User: ... is not authorized to perform:
  ACTION on resource: RESOURCE because no identity-based policy allows the ACTION action"}`.

Other services (STS, KMS management calls the tests make) pass through unevaluated.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse
from tests.iam.evaluator import Context, Decision, evaluate_all, tag_context

ACCOUNT = "123456789012"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/keep-test"
AWS_MANAGED_ALIASES = {"alias/aws/secretsmanager", "alias/aws/ssm"}

Policy = Mapping[str, Any]


@dataclass(frozen=True)
class Check:
    """One authorisation AWS performs for a request."""

    action: str
    resource: str
    context: Context
    #: the name shown in a denial message (AWS shows the id the caller used for unknown secrets)
    shown: str = ""
    #: False when the resource does not exist (yet): a secret being created or looked up by a
    #: name moto does not know
    exists: bool = True


@dataclass(frozen=True)
class Recorded:
    operation: str
    action: str
    resource: str
    effect: str
    exists: bool = True

    @property
    def allowed(self) -> bool:
        return self.effect == "Allow"


class IamEmulator:
    """A proxy hook (`hook(request) -> ProxyResponse | None`) that enforces `policy`."""

    def __init__(self, upstream: str, policy: Policy | Sequence[Policy] | None = None) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self.policy = policy
        self.decisions: list[Recorded] = []
        self._proxy: Proxy | None = None
        self._lock = threading.Lock()

    # -- wiring ------------------------------------------------------------------------------
    def attach(self, proxy: Proxy) -> IamEmulator:
        """Install as the proxy's first hook (IAM is checked before anything else happens)."""
        self._proxy = proxy
        proxy.hooks.insert(0, self)
        return self

    @property
    def url(self) -> str:
        """The proxy's URL (`AWS_ENDPOINT_URL` for keep under this policy)."""
        if self._proxy is None:
            raise RuntimeError("not attached to a proxy")
        return self._proxy.url

    def reset(self) -> None:
        with self._lock:
            self.decisions.clear()

    def denied(self) -> list[Recorded]:
        with self._lock:
            return [d for d in self.decisions if not d.allowed]

    def actions(self) -> list[str]:
        """Every action evaluated since the last reset, in order."""
        with self._lock:
            return [d.action for d in self.decisions]

    # -- the hook ----------------------------------------------------------------------------
    def __call__(self, request: ProxyRequest) -> ProxyResponse | None:
        if self.policy is None or request.service not in ("secretsmanager", "ssm"):
            return None
        body = request.json if isinstance(request.json, dict) else {}
        operation = request.operation or ""
        region = request.region or "us-east-1"
        if request.service == "secretsmanager":
            checks = self._secretsmanager_checks(request, operation, body, region)
        else:
            checks = self._ssm_checks(request, operation, body, region)
        for check in checks:
            decision = self._decide(operation, check)
            if not decision.allowed:
                return self._deny(request, check, decision)
        if request.service == "secretsmanager" and operation == "BatchGetSecretValue":
            return self._filter_batch(request, region)
        return None

    def _decide(self, operation: str, check: Check) -> Decision:
        policies = [self.policy] if isinstance(self.policy, Mapping) else list(self.policy or [])
        decision = evaluate_all(policies, check.action, check.resource, check.context)
        with self._lock:
            self.decisions.append(Recorded(operation, check.action, check.resource, decision.effect, check.exists))
        return decision

    @staticmethod
    def message(check: Check, decision: Decision) -> str:
        why = (
            "with an explicit deny in an identity-based policy"
            if decision.effect == "ExplicitDeny"
            else f"because no identity-based policy allows the {check.action} action"
        )
        return (
            f"User: {PRINCIPAL} is not authorized to perform: {check.action} on resource: "
            f"{check.shown or check.resource} {why}"
        )

    def _deny(self, request: ProxyRequest, check: Check, decision: Decision) -> ProxyResponse:
        return ProxyResponse.aws_error(request, 400, "AccessDeniedException", self.message(check, decision))

    # -- moto lookups (direct to moto: not counted, not evaluated) ---------------------------
    def _upstream(self, request: ProxyRequest, target: str, payload: dict[str, Any]) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            body = json.dumps(payload).encode()
            headers = {
                "X-Amz-Target": target,
                "Content-Type": "application/x-amz-json-1.1",
                # moto routes by the SigV4 credential scope and checks no signature
                "Authorization": request.headers.get("Authorization", ""),
                "Content-Length": str(len(body)),
            }
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, json.loads(data or b"{}")
        finally:
            conn.close()

    def _describe_secret(self, request: ProxyRequest, secret_id: str) -> dict[str, Any] | None:
        status, data = self._upstream(request, "secretsmanager.DescribeSecret", {"SecretId": secret_id})
        return data if status == 200 and isinstance(data, dict) else None

    def _kms_key(self, request: ProxyRequest, key_id: str, region: str) -> tuple[str, list[str]] | None:
        """(key ARN, its aliases) of a customer managed key; None for AWS managed keys."""
        if not key_id or key_id in AWS_MANAGED_ALIASES or key_id.endswith(tuple(f":{a}" for a in AWS_MANAGED_ALIASES)):
            return None
        target = request.headers.get("Authorization", "").replace(f"/{request.service}/", "/kms/")
        kms_request = ProxyRequest(request.method, "/", {"Authorization": target}, b"")
        status, described = self._upstream(kms_request, "TrentService.DescribeKey", {"KeyId": key_id})
        if status != 200:
            # unknown to moto: evaluate against the id as given (AWS would fail the call anyway)
            return (key_id if key_id.startswith("arn:") else f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}", [])
        meta = described.get("KeyMetadata", {})
        if meta.get("KeyManager") == "AWS":
            return None
        arn = str(meta.get("Arn"))
        _, aliases = self._upstream(kms_request, "TrentService.ListAliases", {"KeyId": meta.get("KeyId")})
        names = [str(a.get("AliasName")) for a in aliases.get("Aliases", [])] if isinstance(aliases, dict) else []
        return arn, names

    def _kms_check(self, request: ProxyRequest, action: str, key_id: str, region: str) -> Check | None:
        key = self._kms_key(request, key_id, region)
        if key is None:
            return None
        arn, aliases = key
        context: dict[str, Any] = {"kms:ViaService": f"{request.service}.{region}.amazonaws.com"}
        if aliases:
            context["kms:ResourceAliases"] = aliases
        return Check(action, arn, context)

    # -- Secrets Manager -----------------------------------------------------------------------
    def _secret_check(self, request: ProxyRequest, action: str, secret_id: str, region: str,
                      described: dict[str, Any] | None, extra: Mapping[str, Any] | None = None) -> Check:
        if described is not None:
            arn = str(described.get("ARN"))
            tags = {str(t["Key"]): str(t["Value"]) for t in described.get("Tags") or []}
            shown = arn
        else:
            arn = secret_id if secret_id.startswith("arn:") else (
                f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret_id}")
            tags = {}
            shown = secret_id
        context = dict(tag_context("secretsmanager", resource_tags=tags))
        context.update(extra or {})
        return Check(action, arn, context, shown, exists=described is not None)

    def _secretsmanager_checks(self, request: ProxyRequest, operation: str, body: dict[str, Any],
                               region: str) -> list[Check]:
        action = f"secretsmanager:{operation}"
        if operation in ("ListSecrets", "GetRandomPassword"):
            return [Check(action, "*", {})]
        if operation == "BatchGetSecretValue":
            checks = [Check(action, "*", {})]
            if body.get("Filters"):
                checks.append(Check("secretsmanager:ListSecrets", "*", {}))
            return checks
        if operation == "CreateSecret":
            name = str(body.get("Name", ""))
            request_tags = {str(t["Key"]): str(t["Value"]) for t in body.get("Tags") or []}
            arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}"
            checks = [Check(action, arn, tag_context("secretsmanager", request_tags=request_tags), name, False)]
            if request_tags:
                checks.append(Check(
                    "secretsmanager:TagResource", arn,
                    tag_context("secretsmanager", resource_tags=request_tags, request_tags=request_tags), name, False,
                ))
            if body.get("AddReplicaRegions"):
                checks.append(Check("secretsmanager:ReplicateSecretToRegions", arn,
                                    tag_context("secretsmanager", resource_tags=request_tags), name, False))
            kms = self._kms_check(request, "kms:GenerateDataKey", str(body.get("KmsKeyId") or ""), region)
            if kms is not None:
                checks += [kms, Check("kms:Decrypt", kms.resource, kms.context)]
            return checks
        secret_id = str(body.get("SecretId", ""))
        described = self._describe_secret(request, secret_id) if secret_id else None
        extra: dict[str, Any] = {}
        if operation == "TagResource":
            request_tags = {str(t["Key"]): str(t["Value"]) for t in body.get("Tags") or []}
            extra = {f"aws:RequestTag/{k}": v for k, v in request_tags.items()}
            if request_tags:
                extra["aws:TagKeys"] = list(request_tags)
        elif operation == "UntagResource" and body.get("TagKeys"):
            extra = {"aws:TagKeys": [str(k) for k in body["TagKeys"]]}
        checks = [self._secret_check(request, action, secret_id, region, described, extra)]
        key_id = str((described or {}).get("KmsKeyId") or "")
        if operation == "GetSecretValue" and key_id:
            kms = self._kms_check(request, "kms:Decrypt", key_id, region)
            checks += [kms] if kms else []
        elif operation == "PutSecretValue" and key_id:
            kms = self._kms_check(request, "kms:GenerateDataKey", key_id, region)
            checks += [kms] if kms else []
        return checks

    def _filter_batch(self, request: ProxyRequest, region: str) -> ProxyResponse:
        """Forward, then move every secret the caller may not GetSecretValue into `Errors`."""
        if self._proxy is None:
            raise RuntimeError("IamEmulator.attach(proxy) is needed to filter BatchGetSecretValue")
        answer = self._proxy.forward(request)
        if answer.status != 200:
            return answer
        data = json.loads(answer.body or b"{}")
        kept: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = list(data.get("Errors") or [])
        for item in data.get("SecretValues") or []:
            arn = str(item.get("ARN") or item.get("Name"))
            described = self._describe_secret(request, arn)
            check = self._secret_check(request, "secretsmanager:GetSecretValue", arn, region, described)
            decision = self._decide("BatchGetSecretValue", check)
            if not decision.allowed:
                errors.append({"SecretId": arn, "ErrorCode": "AccessDeniedException",
                               "Message": self.message(check, decision)})
                continue
            key_id = str((described or {}).get("KmsKeyId") or "")
            kms = self._kms_check(request, "kms:Decrypt", key_id, region) if key_id else None
            if kms is not None:
                kms_decision = self._decide("BatchGetSecretValue", kms)
                if not kms_decision.allowed:
                    errors.append({"SecretId": arn, "ErrorCode": "DecryptionFailure",
                                   "Message": "Access to KMS is not allowed: " + self.message(kms, kms_decision)})
                    continue
            kept.append(item)
        data["SecretValues"] = kept
        data["Errors"] = errors
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        return ProxyResponse(200, json.dumps(data).encode(), headers)

    # -- SSM -------------------------------------------------------------------------------------
    @staticmethod
    def parameter_arn(name: str, region: str) -> str:
        if name.startswith("arn:"):
            return name
        # `name:3` / `name:label` select a version; the resource is the parameter itself
        bare = name.split(":", 1)[0]
        return f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/{bare.lstrip('/')}"

    def _ssm_checks(self, request: ProxyRequest, operation: str, body: dict[str, Any], region: str) -> list[Check]:
        action = f"ssm:{operation}"
        if operation in ("GetParameters", "DeleteParameters"):
            return [Check(action, self.parameter_arn(str(n), region), {}) for n in body.get("Names") or []]
        if operation in ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"):
            return [Check(action, self.parameter_arn(str(body.get("ResourceId", "")), region), {})]
        if operation == "GetParametersByPath":
            path = str(body.get("Path", "/")).rstrip("/") or "/"
            checks = [Check(action, self.parameter_arn(path, region), {})]
            if body.get("WithDecryption"):
                flt = {"Key": "Path", "Option": "Recursive" if body.get("Recursive") else "OneLevel", "Values": [path]}
                checks += self._ssm_decrypt_checks(request, flt, region)
            return checks
        if "Name" not in body:
            return [Check(action, "*", {})]
        arn = self.parameter_arn(str(body["Name"]), region)
        checks = [Check(action, arn, {})]
        if operation == "PutParameter":
            if body.get("Tags"):
                checks.append(Check("ssm:AddTagsToResource", arn, {}))
            if body.get("Type") == "SecureString" and body.get("KeyId"):
                kms_action = "kms:Encrypt" if body.get("Tier", "Standard") == "Standard" else "kms:GenerateDataKey"
                kms = self._kms_check(request, kms_action, str(body["KeyId"]), region)
                checks += [kms] if kms else []
        elif operation in ("GetParameter", "GetParameterHistory") and body.get("WithDecryption"):
            name = str(body["Name"]).split(":", 1)[0] if not str(body["Name"]).startswith("arn:") else str(body["Name"])
            checks += self._ssm_decrypt_checks(request, {"Key": "Name", "Values": [name]}, region)
        return checks

    def _ssm_decrypt_checks(self, request: ProxyRequest, parameter_filter: dict[str, Any], region: str) -> list[Check]:
        """kms:Decrypt on every customer managed key of the SecureStrings a read returns."""
        keys: set[str] = set()
        payload: dict[str, Any] = {"ParameterFilters": [parameter_filter], "MaxResults": 50}
        while True:
            status, data = self._upstream(request, "AmazonSSM.DescribeParameters", payload)
            if status != 200 or not isinstance(data, dict):
                break
            keys |= {str(p.get("KeyId")) for p in data.get("Parameters", []) if p.get("Type") == "SecureString"}
            if not data.get("NextToken"):
                break
            payload["NextToken"] = data["NextToken"]
        checks = [self._kms_check(request, "kms:Decrypt", key, region) for key in sorted(keys)]
        return [c for c in checks if c is not None]
