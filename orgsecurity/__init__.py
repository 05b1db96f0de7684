"""The core app: users, organizations, memberships and roles, sign-in, the enforcement pipelines, the access-check
stack of security views (``access``), the one refusal type (``refusals``) and its answers (``errors``), the
sign-in session state (``signin_state``) and the registries theme apps plug into from their ``ready()``
(``themes``; membership-change guards and effects in ``actions``). It names no theme app."""
