"""SSO sign-in: the pending-login round trip to the IdP (``flow``), what an answer completes (one module per purpose:
``login``, ``link``, ``test``, ``reauthentication``, dispatched by ``complete``), held links awaiting confirmation
(``linking``), and the pages people sign in through (``public_views``: start, finish, refusals; ``signin_views``:
the email-first sign-in form and recovery-code sign-in)."""
