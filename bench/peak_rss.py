"""peak_rss.py RUNS NAME::COMMAND... - peak resident set size of each command.

Runs each command (through /bin/sh, as hyperfine does) RUNS times and takes
ru_maxrss from wait4, which covers the process and the children it waited
for (so a pipeline counts its largest member). Prints JSON {name: KiB}.
"""
import json
import os
import sys

runs = int(sys.argv[1])
out = {}
for arg in sys.argv[2:]:
    name, cmd = arg.split("::", 1)
    peaks = []
    for _ in range(runs):
        pid = os.fork()
        if pid == 0:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execv("/bin/sh", ["sh", "-c", cmd])
        _, status, ru = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"peak_rss: '{name}' failed")
        peaks.append(ru.ru_maxrss)
    peaks.sort()
    out[name] = peaks[len(peaks) // 2]
print(json.dumps(out))
