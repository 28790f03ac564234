"""The benchmark scripts run on a small excerpt of the novel in tests, so
they do not depend on the shared data folder being next to the checkout."""

import os
from pathlib import Path

os.environ["RECURRENTGPT_BENCH_NOVEL"] = str(Path(__file__).resolve().parents[1] / "data" / "pride_and_prejudice_ch1-6.txt")
