"""SSO rollout: whether a connection is ready to be enforced (``readiness``), the test group, fallback policy,
password exceptions, test plan and scheduled enforcement (``scheduling``), the per-request enforcement check and
SSO session markers (``enforcement``), and the rollout pages (``views``, ``forms``). Rollout builds on
``sso.connections.actions`` (status changes); actions never import rollout."""
