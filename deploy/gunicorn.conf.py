"""gunicorn's settings for ./scripts/run and the tests that serve the app (behind nginx).

The app is imported once before the workers fork (``preload_app``): a worker (re)start costs a
fork, not an import of the whole app. Threaded workers keep a slow database call from holding a
whole process; slow clients never reach gunicorn, nginx reads them first.
"""

import os

bind = os.environ.get("GRIDMAP_APP_BIND", "127.0.0.1:5001")
workers = int(os.environ.get("GRIDMAP_WORKERS", "4"))
worker_class = "gthread"
threads = 4
preload_app = True
timeout = 60
graceful_timeout = 30
# Requests longer than this are refused by gunicorn itself (nginx already bounds the body).
limit_request_line = 8190
wsgi_app = "gridmap:create_app()"
# gunicorn's control socket lives at one path per user: several servers on one machine (the
# app, the tests' servers) would take it from each other, and nothing here uses it.
control_socket_disable = True
