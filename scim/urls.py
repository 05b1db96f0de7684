"""SCIM 2.0 endpoints of one organization, under /scim/v2/<org_slug>/ (RFC 7644 §3.2)."""

from django.urls import path

from scim import views

urlpatterns = [
    path(".search", views.root_search_view, name="scim_search"),
    path("ServiceProviderConfig", views.service_provider_config_view, name="scim_spc"),
    path("ResourceTypes", views.resource_types_view, name="scim_resource_types"),
    path("ResourceTypes/<str:resource_id>", views.resource_types_view, name="scim_resource_type"),
    path("Schemas", views.schemas_view, name="scim_schemas"),
    path("Schemas/<str:schema_id>", views.schemas_view, name="scim_schema"),
    path("Users", views.users_view, name="scim_users"),
    path("Users/.search", views.users_search_view, name="scim_users_search"),
    path("Users/<str:resource_id>", views.user_view, name="scim_user"),
    path("Groups", views.groups_view, name="scim_groups"),
    path("Groups/.search", views.groups_search_view, name="scim_groups_search"),
    path("Groups/<str:resource_id>", views.group_view, name="scim_group"),
]
