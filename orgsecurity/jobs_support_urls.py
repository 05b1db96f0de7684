"""The Jobs page of the support console, included under /support/platform/jobs/ (``audit.support.PlatformPage``)."""

from django.urls import path

from orgsecurity import jobs_views

urlpatterns = [path("", jobs_views.jobs, name="platform_jobs")]
