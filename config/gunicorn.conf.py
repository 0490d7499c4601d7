"""gunicorn's settings for serving LandLedger in production:
``gunicorn -c config/gunicorn.conf.py config.wsgi:application`` (``make serve``).

Threads, not only processes: a request mostly waits for PostgreSQL, and each thread keeps its
own connection (``CONN_MAX_AGE``), so PostgreSQL sees workers × threads connections; past a
few dozen, put PgBouncer in transaction mode in between (docs/scale-out.md). Environment
variables override the defaults, so the load test and a deployment use this same file.
"""

import os

bind = os.environ.get("LANDLEDGER_BIND", "127.0.0.1:8000")
# Two processes per core, each with a few threads: enough to keep every core busy while
# requests wait for the database, few enough that the connections stay below its limit.
workers = int(os.environ.get("LANDLEDGER_WORKERS", 2 * len(os.sched_getaffinity(0))))
threads = int(os.environ.get("LANDLEDGER_THREADS", 4))
worker_class = "gthread"
# A tile of zoom 12 or an export can take seconds; a worker stuck for two minutes is restarted.
timeout = 120
graceful_timeout = 30
# Longer than any client pauses between two requests: with gunicorn's default of 2 s, a
# client that paused about that long sent its next request on a connection the server was
# closing, and got a reset.
keepalive = 75
# The map opens the export form with its selection in the address (up to 500 feature
# numbers): twice gunicorn's default request line, its largest.
limit_request_line = 8190
# Restart each worker now and then, so that a slow leak in a library never grows unbounded.
max_requests = 5000
max_requests_jitter = 500
# Several servers may run side by side (tests, benchmarks): no shared control socket.
control_socket_disable = True
accesslog = os.environ.get("LANDLEDGER_ACCESS_LOG") or None
errorlog = "-"
