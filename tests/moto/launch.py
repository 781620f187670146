"""Start moto's server for casebot's tests.

Usage: python launch.py <port>

Binds 127.0.0.1 only. The server exits by itself when the test process that started it goes
away (even if that process was killed and could not stop it), so no moto outlives a test run.
Project-specific moto extensions are loaded here, before the server starts.
"""

import os
import sys
import threading
import time


def _exit_with_parent(parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(0)


def main() -> None:
    port = sys.argv[1]
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", port])


if __name__ == "__main__":
    main()
