"""Run every benchmark in turn (each writes benchmarks/results/NAME.json and prints its table)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_plot.py", "bench_file.py", "bench_trace.py", "bench_html.py", "bench_train.py"]


def main() -> int:
    failed = []
    for script in SCRIPTS:
        print(f"\n=== {script} ===", flush=True)
        if (
            subprocess.run(
                [
                    sys.executable,
                    str(HERE / script),
                ]
            ).returncode
            != 0
        ):
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
