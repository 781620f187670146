"""Start moto's server for casebot's tests.

Usage: python launch.py <port>

Binds 127.0.0.1 only. Installs casebot's Support extension (casebot_support.py), which makes
moto's Support API behave like AWS's, then serves moto the way `moto_server` does. The server
exits by itself when the test process that started it goes away (even if that process was
killed and could not stop it), so no moto outlives a test run.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _exit_with_parent(parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(0)


def main() -> None:
    port = int(sys.argv[1])
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    os.environ.setdefault("MOTO_PORT", str(port))

    from werkzeug.serving import run_simple
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    import casebot_support

    casebot_support.install()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, casebot_support.wrap(app), threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
