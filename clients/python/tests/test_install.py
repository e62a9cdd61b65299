#!/usr/bin/env python3
"""clients/python as a user installs it: a venv of Debian's Python
(python3-venv) that sees Debian's setuptools and wheel
(--system-site-packages: a bare venv has no wheel, and no index is
reachable), `pip install --no-build-isolation --no-index` of a copy of the
package (pip builds in the source folder, so the tree is copied first),
then the installed package, imported from outside the repository, talks to
the real server. Run by meson as clients-python-install."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import helpers

SRC = Path(__file__).resolve().parents[1]


class TestInstall(unittest.TestCase):
    def test_venv_install_and_use(self):
        with tempfile.TemporaryDirectory(prefix="cj-py-install-") as d:
            d = Path(d)
            src = d / "src"
            shutil.copytree(SRC, src, ignore=shutil.ignore_patterns("tests", "__pycache__",
                                                                    "build", "*.egg-info"))
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", d / "venv"],
                           check=True)
            py = d / "venv" / "bin" / "python"
            r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                                "--disable-pip-version-check", "-q", src],
                               capture_output=True, text=True,
                               env={k: v for k, v in os.environ.items()
                                    if k != "PIP_FIND_LINKS"})  # nothing but Debian's
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            code = (
                "import json, os, chatjournal\n"
                "cj = chatjournal.Client(os.environ['CJ_URL'], token=os.environ['CJ_TOKEN'])\n"
                "seq = cj.append({'type': 'message', 'thread': 'py-inst', 'role': 'user',"
                " 'content': 'installed'})['seq']\n"
                "rows = cj.history('py-inst', min_seq=seq)\n"
                "print(json.dumps([chatjournal.__version__, chatjournal.__file__,"
                " [[m['seq'], m['content']] for m in rows], seq]))\n")
            r = subprocess.run([py, "-c", code], cwd=d, capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=""))
            self.assertEqual(r.returncode, 0, r.stderr)
            version, path, rows, seq = json.loads(r.stdout)
            self.assertEqual(version, "0.1.0")
            self.assertTrue(path.startswith(str(d / "venv" / "lib")), path)
            self.assertEqual(rows, [[seq, "installed"]])
            r = subprocess.run([py, "-m", "pip", "show", "chatjournal"], capture_output=True,
                               text=True)
            self.assertIn("Version: 0.1.0", r.stdout)


if __name__ == "__main__":
    sys.exit(helpers.run(sys.modules[__name__]))
