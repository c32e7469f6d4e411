"""gunicorn's settings for nrm-api, for an operator who runs gunicorn directly rather than ``nrm-api serve``.

    gunicorn -c deploy/gunicorn.conf.py

They are ``nrm_api.serve.options()``, the very settings ``nrm-api serve`` gives gunicorn, so the two
cannot drift apart; only where to listen and how many workers and threads come from the environment:
``NRM_BIND`` (default ``127.0.0.1:8000``), ``NRM_WORKERS`` (2) and ``NRM_THREADS`` (8); the log format is
``NRM_LOG_FORMAT``'s (json), and the workers' metrics go to ``PROMETHEUS_MULTIPROC_DIR`` (emptied here;
set it to a folder of the service's own, e.g. /run/nrm-api/metrics, or a private one is made). As under
``nrm-api serve --no-background``, the workers neither sequence the audit log nor deliver webhooks
and never see ``NRM_SEQUENCER_DATABASE_URL``: run ``nrm-api audit sequence --loop 0.2`` and
``nrm-api webhooks deliver --loop 1`` beside it (deploy/systemd has a unit for each).
"""

import os

from nrm_api import serve

_host, _, _port = os.environ.get("NRM_BIND", "127.0.0.1:8000").rpartition(":")
globals().update(serve.options(_host or "127.0.0.1", int(_port),
                               int(os.environ.get("NRM_WORKERS", "2")),
                               int(os.environ.get("NRM_THREADS", str(serve.THREADS))),
                               os.environ.get("NRM_LOG_FORMAT", "json").strip().lower() or "json"))
serve.metrics_folder()
serve.web_environment()
wsgi_app = "nrm_api:create_app()"
