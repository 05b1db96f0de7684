"""The one refusal type: a stable ``code``, a sentence for the person and the HTTP ``status``.

Every refusal in the product is a ``Refusal`` or one of its specialisations: the enforcement pipelines
(``orgsecurity.pipeline``, the key API) return one, action functions raise ``orgsecurity.actions.ActionRefused``,
an SSO round trip raises ``sso.errors.SSOSignInRefused`` and a SAML answer ``sso.saml.response.SAMLResponseRejected``.
``orgsecurity.errors.render_refusal`` answers any of them, as JSON (``{"error": {"code", "message"}}``) or as an
HTML page. This module is a leaf: it imports nothing of the product, so every app may depend on it.
"""

from __future__ import annotations

from typing import Any

REFUSAL_TEMPLATE = "orgsecurity/refusal.html"


class Refusal(Exception):
    """Why a request or an action was refused; nothing was changed.

    ``code`` is a stable snake_case word for programs, ``message`` a sentence for the person (what happened and
    what to do instead; ``str(refusal)`` is the message), ``status`` the HTTP status of the answer. For browsers a
    refusal may name a ``redirect_to`` URL (followed by GET and HEAD requests) or a ``template`` rendered with
    ``{"refusal": refusal, **context}``. A pipeline check returns one; code that stops midway raises one.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 403,
        *,
        redirect_to: str | None = None,
        template: str = REFUSAL_TEMPLATE,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.redirect_to = redirect_to
        self.template = template
        self.context: dict[str, Any] = context or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, status={self.status})"
