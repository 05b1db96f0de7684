"""SSO sign-in, read from the ACS down: the pending-login round trip to the IdP (``flow``: begin, claim, answer,
the browser-bound finish token); ``completion.complete`` dispatches a validated answer by its purpose to one module
each, in the manner of django-allauth's ``account/internal/flows`` — ``login`` (sign in, or ``provision`` by verified
email or JIT), ``link`` ("Link SSO"), ``testing`` (a connection test, optionally with a test session) and
``reauthentication`` (start and finish a forced fresh IdP login) — which share ``answer`` (``Outcome``,
``find_identity``, ``refuse``). ``linking`` holds links that wait for the person's confirmation; ``refusals`` renders
a refused sign-in; ``public_views`` (start, finish) and ``signin_views`` (email-first sign-in, recovery-code
sign-in) are the pages people sign in through."""
