"""Issue 16 items 12 (malformed placeholders are warned about) and 13 (one summary line for keys
shared by two vaults)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from tests.conftest import KEEP, KeepRunner, base_env


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
    text = "".join(f"SHARED_{i:04d}=fake-{i}\n" for i in range(40))  # one line however many
    kp.ok("import", "-", "--stage", "staging", input=text)
    kp.ok("import", "-", "--stage", "staging", "--vault", "second", input=text)
    result = kp.ok("export", "--stage", "staging", "--vault", "local,second", "--format", "env")
    lines = [line for line in result.stderr.splitlines() if "in both" in line]
    assert len(lines) == 1, result.stderr[:2000]
    assert "40 keys are in both local and second; using second: SHARED_0000" in lines[0]
    assert "(35 more)" in lines[0] and "SHARED_0005" not in lines[0]


def _init_under_umask(tmp_path: Path, mask: int) -> Path:
    home = tmp_path / f"home-{mask:o}"
    project = tmp_path / f"proj-{mask:o}"
    home.mkdir()
    project.mkdir()
    env = base_env(home)
    for args in (["init", "--no-interaction", "--name", "App", "--namespace", "myapp"],
                 ["set", "K", "fake-value", "--stage", "staging"]):
        done = subprocess.run([*KEEP, *args], cwd=project, env=env, capture_output=True, timeout=60,
                              preexec_fn=lambda: os.umask(mask))
        assert done.returncode == 0, done.stderr
    return project


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keep_files_respect_the_umask_and_are_never_looser_than_0644(tmp_path: Path) -> None:
    strict = _init_under_umask(tmp_path, 0o077)
    assert _mode(strict / ".keep") == 0o700 and _mode(strict / ".keep" / "vaults") == 0o700
    assert _mode(strict / ".keep" / "settings.json") == 0o600
    assert {_mode(p) for p in (strict / ".keep" / "vaults").iterdir()} == {0o600}
    loose = _init_under_umask(tmp_path, 0o000)
    assert _mode(loose / ".keep") == 0o755 and _mode(loose / ".keep" / "vaults") == 0o755
    assert _mode(loose / ".keep" / "settings.json") == 0o644
    assert {_mode(p) for p in (loose / ".keep" / "vaults").iterdir()} == {0o644}
    for project in (strict, loose):
        assert _mode(project / ".keep" / "local") == 0o700
        assert _mode(project / ".keep" / "local" / "local.db") == 0o600
