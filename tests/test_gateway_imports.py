"""The public gateway never loads Rasa's engine, NumPy or TensorFlow (memory and start-up time):
a fresh interpreter imports the gateway and everything its routes import, and looks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys
import bot.gateway, bot.logging_setup, bot.responses, bot.handoff.service, channels.whatsapp
import channels.wechat, channels.console.web, bot.web.staff_api, bot.web.core_proxy
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"rasa", "tensorflow", "numpy", "jax"})
print(json.dumps(heavy))
"""


def test_gateway_imports_no_model_stack() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
