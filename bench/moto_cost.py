"""What one request costs the emulator: moto's CPU time per call (from /proc, 30 calls each,
one after the other, no proxy), for the calls of keep's and Keep's listings:

    python bench/moto_cost.py

moto serves requests one at a time under one GIL, so this CPU time is also how long every
other request waits behind it (README "Performance" explains what it means for the budgets).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import infra
from bench.keep_pattern import sm_tag_filters

CALLS = 30


def cases(sm: Any, ssm: Any) -> dict[str, Callable[[], object]]:
    names = [f"/{infra.NAMESPACE}/c200/{infra.key_name(i)}" for i in range(10)]
    page = sm.list_secrets(MaxResults=100, Filters=[{"Key": "name", "Values": [f"{infra.NAMESPACE}/c400/"]}])
    arns = [entry["ARN"] for entry in page["SecretList"][:20]]
    path = [{"Key": "Path", "Option": "Recursive", "Values": [f"/{infra.NAMESPACE}/c200"]}]
    return {
        "SSM DescribeParameters, 50 names (keep)": lambda: ssm.describe_parameters(ParameterFilters=path,
                                                                                    MaxResults=50),
        "SSM GetParameters, 10 values (keep)": lambda: ssm.get_parameters(Names=names, WithDecryption=True),
        "SSM GetParameters, 1 value": lambda: ssm.get_parameters(Names=names[:1], WithDecryption=True),
        "SSM GetParametersByPath, 10 values (Keep)": lambda: ssm.get_parameters_by_path(
            Path=f"/{infra.NAMESPACE}/c200", Recursive=True, WithDecryption=True, MaxResults=10),
        "SM ListSecrets, 100 by name (keep)": lambda: sm.list_secrets(
            MaxResults=100, Filters=[{"Key": "name", "Values": [f"{infra.NAMESPACE}/c400/"]}]),
        "SM ListSecrets, 20 by tags (Keep)": lambda: sm.list_secrets(
            MaxResults=20, Filters=sm_tag_filters(infra.NAMESPACE, "c400")),
        "SM BatchGetSecretValue, 20 values": lambda: sm.batch_get_secret_value(SecretIdList=arns),
        "SM BatchGetSecretValue, 1 value": lambda: sm.batch_get_secret_value(SecretIdList=arns[:1]),
    }


def main() -> int:
    with infra.moto_server() as url:
        pid = infra.MOTO_PIDS[url]
        infra.seed_ssm(url, "c200", 200, "us-west-2")
        infra.seed_sm(url, "c400", 400, "eu-west-1")
        sm = infra.boto_client("secretsmanager", url, "eu-west-1")
        ssm = infra.boto_client("ssm", url, "us-west-2")
        print("| call (stage of 200 parameters / 400 secrets) | moto CPU ms per call |")
        print("|---|---|")
        for name, call in cases(sm, ssm).items():
            call()
            before = infra.cpu_seconds(pid)
            for _ in range(CALLS):
                call()
            print(f"| {name} | {1000 * (infra.cpu_seconds(pid) - before) / CALLS:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
