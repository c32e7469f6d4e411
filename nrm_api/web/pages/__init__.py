"""The pages: each module routes on ``web.blueprint.bp`` and is imported by ``web.init_app``."""
