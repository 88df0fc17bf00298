"""`make install`'s pip, shown as what it is doing and how far it is: one line per stage, pip's own log kept aside.

Usage: python deploy/pip_progress.py LOG PIP_ARGS...  (standard library only: it runs before anything is installed)
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

_FOUND = re.compile(r"^(?:Collecting|Processing|Requirement already satisfied:|Obtaining)\s+(\S+)")
_BUILDING = re.compile(r"^\s*Building (?:editable|wheel) for (\S+) .*: started")
_INSTALLING = "Installing collected packages:"
_INSTALLED = "Successfully installed"


class Progress:
    """The current stage on one line: rewritten in place on a terminal, a line per change of stage otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.stage = ""
        self.width = 0

    def show(self, stage: str, detail: str = "", count: int = 0) -> None:
        text = f"{stage}{detail}"
        if self.tty:
            self.width = max(self.width, len(text))
            sys.stdout.write("\r" + text.ljust(self.width)[:160])
        elif stage != self.stage or count % 25 == 0:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()
        self.stage = stage

    def done(self, text: str) -> None:
        if self.tty and self.stage:
            sys.stdout.write("\r" + " " * min(self.width, 160) + "\r")
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        self.stage = ""


def main(log: Path, pip: list[str]) -> int:
    started = time.monotonic()
    progress = Progress()
    found = built = 0
    installed: list[str] = []
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as kept:
        process = subprocess.Popen(
            [*pip, "--progress-bar", "off"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert process.stdout is not None
        for line in process.stdout:
            kept.write(line)
            if match := _FOUND.match(line):
                found += 1
                progress.show("resolving", f": {found} packages so far ({match[1]})", found)
            elif match := _BUILDING.match(line):
                built += 1
                progress.show("building", f": {built} ({match[1]})")
            elif line.startswith(_INSTALLING):
                names = [name.strip() for name in line.removeprefix(_INSTALLING).split(",") if name.strip()]
                progress.show(
                    f"installing {len(names)} packages", f": {', '.join(names[:5])}{', …' * (len(names) > 5)}"
                )
            elif line.startswith(_INSTALLED):
                installed = line.removeprefix(_INSTALLED).split()
        status = process.wait()
    elapsed = time.monotonic() - started
    if status != 0:
        progress.done(f"pip failed after {elapsed:.0f} s; its last lines (all of them in {log}):")
        sys.stdout.writelines(log.read_text().splitlines(keepends=True)[-30:])
        return status
    what = f"installed or updated {len(installed)} packages" if installed else "everything was up to date"
    progress.done(f"{what} in {elapsed:.0f} s (pip's log: {log})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
