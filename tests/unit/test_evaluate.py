"""The evaluation stage starts without torch."""

import subprocess
import sys


def test_evaluation_and_its_wrapper_do_not_import_torch():
    code = (
        "import sys\n"
        "import dmlstudy.evaluate, dmlstudy.scripting, dmlstudy.config, dmlstudy.losses\n"
        "import dmlstudy.sampling\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
