import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
collect_ignore_glob = ["fixtures/*"]

# Colour is decided from the environment (NO_COLOR / FORCE_COLOR, as ruff does); the tests that read
# text output expect none, whatever the machine running them sets.
os.environ.pop("FORCE_COLOR", None)
