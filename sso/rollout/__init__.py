"""SSO rollout: whether a connection is ready to be enforced and who may sign in through it (``readiness``,
read-only, below the actions), the test group, fallback policy, password exceptions, test plan, scheduled
enforcement and key reviews (``scheduling``), the per-request enforcement check and SSO session markers
(``enforcement``, reads only), the once-a-minute middleware step that applies due scheduled enforcement
(``middleware``), and the rollout pages (``views``, ``forms``). Rollout builds on ``sso.connections.actions`` and
follows them through the hooks ``SsoConfig.ready`` registers (``ENFORCEMENT_STARTED_HOOKS``,
``IDENTITY_UNLINKED_HOOKS``, ``TEST_RUN_FINISHED_HOOKS``); actions never import rollout."""
