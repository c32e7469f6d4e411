"""The web form's Flask extensions, bound to an app by ``web.init_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
