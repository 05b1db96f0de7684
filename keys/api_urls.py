"""The key-authenticated JSON API under /api/v1/ (Authorization: Bearer <key>)."""

app_name = "api"

urlpatterns: list = []
