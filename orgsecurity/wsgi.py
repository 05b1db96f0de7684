"""WSGI entry point (gunicorn orgsecurity.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgsecurity.settings")

application = get_wsgi_application()
