"""Verified email domains: claiming a domain, verifying it by DNS TXT record or by platform support, and the
lookups from an email address to its verified domain and organization (``verification``)."""
