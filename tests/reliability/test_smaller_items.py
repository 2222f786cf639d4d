"""Issue 16 items 12 (malformed placeholders are warned about) and 13 (one summary line for keys
shared by two vaults)."""

from __future__ import annotations

import json

from tests.conftest import KeepRunner


def test_unterminated_placeholders_are_warned_about(kp: KeepRunner) -> None:
    kp.ok("set", "HYG", "fake-value", "--stage", "staging")
    template = kp.cwd / "t.env"
    template.write_text("A={local:HYG\nB={local:\nC={local:HYG}}\nD={local:HYG}\n")
    validated = kp("template:validate", str(template))
    assert validated.code != 0
    for needle in ("line 1: unterminated placeholder '{local:HYG'", "line 2: unterminated placeholder '{local:'",
                   "line 3: stray '}' after {local:HYG}"):
        assert needle in validated.stdout + validated.stderr, validated
    exported = kp("export", "--stage", "staging", "--template", str(template), "--format", "env")
    assert exported.code == 0, exported.stderr
    assert "D=fake-value" in exported.stdout
    assert f"{template}:1: unterminated placeholder" in exported.stderr
    assert f"{template}:3: stray '}}'" in exported.stderr


def test_keys_shared_by_two_vaults_are_one_summary_line(kp: KeepRunner) -> None:
    vaults = kp.cwd / ".keep" / "vaults"
    second = json.loads((vaults / "local.json").read_text())
    second.update(slug="second", name="Second")
    (vaults / "second.json").write_text(json.dumps(second))
    text = "".join(f"SHARED_{i:04d}=fake-{i}\n" for i in range(300))
    kp.ok("import", "-", "--stage", "staging", input=text)
    kp.ok("import", "-", "--stage", "staging", "--vault", "second", input=text)
    result = kp.ok("export", "--stage", "staging", "--vault", "local,second", "--format", "env")
    lines = [line for line in result.stderr.splitlines() if "in both" in line]
    assert len(lines) == 1, result.stderr[:2000]
    assert "300 keys are in both local and second; using second: SHARED_0000" in lines[0]
    assert "(295 more)" in lines[0] and "SHARED_0005" not in lines[0]
