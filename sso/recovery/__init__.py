"""SSO recovery accounts: designating the owners who may sign in with a one-time recovery code while SSO is
enforced, generating and redeeming those codes, and the guard that keeps an organization's last way in
(``accounts``)."""
