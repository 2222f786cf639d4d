"""Build keep's wheel and install it in a fresh venv, the way users install it, for the
start-up numbers (an editable install or a checkout on sys.path adds import-system work to
every keep process, and this machine's site-packages runs start-up hooks of its own):

    python bench/wheel_env.py            # prints the venv's python
    $(python bench/wheel_env.py) bench/run.py

The venv has no system site-packages; a path entry (`deps.pth`) makes the dependencies that are
installed system-wide importable (click, cryptography, boto3, moto, ...) without running any
of that directory's own `.pth` start-up hooks, as a plain `pip install keep-secrets` would
put them in the venv's site-packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "results"


def build(venv: Path = HERE / "venv") -> Path:
    wheels = HERE / "wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, stdout=subprocess.DEVNULL)
    wheel = next(wheels.glob("keep_secrets-*.whl"))
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                   check=True)
    return python


if __name__ == "__main__":
    print(build())
