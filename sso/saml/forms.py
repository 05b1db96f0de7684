"""Forms for SAML connections: where the IdP side comes from (metadata URL, XML, manual entry), options, presets."""

from __future__ import annotations

from typing import Any

from django import forms

from orgsecurity.text import validate_plain_text
from sso.models import SAMLSettings
from sso.saml.certificates import CertificateError, load_certificates, split_pem_bundle
from sso.saml.metadata import MAX_METADATA_BYTES, IdPMetadata, MetadataError, fetch_metadata, parse_idp_metadata
from sso.saml.presets import preset_choices


class IdPSourceForm(forms.Form):
    """The IdP side, from one of three sources. After ``is_valid()``, ``idp`` holds what was read and
    ``fetched_from`` the metadata URL (None when the source was not a URL)."""

    SOURCES = [("url", "Metadata URL"), ("xml", "Metadata XML"), ("manual", "Manual entry")]

    source = forms.ChoiceField(choices=SOURCES, widget=forms.RadioSelect, initial="url")
    metadata_url = forms.URLField(
        label="IdP metadata URL",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="Fetched by our server now; refresh it later from the connection page.",
    )
    metadata_xml = forms.CharField(
        label="Metadata XML (paste)", required=False, widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"})
    )
    metadata_file = forms.FileField(label="…or upload the metadata file", required=False)
    entity_id = forms.CharField(label="IdP entity ID", required=False, max_length=1024)
    sso_url = forms.URLField(label="IdP SSO URL", required=False, max_length=2000, assume_scheme="https")
    sso_binding = forms.ChoiceField(label="SSO binding", choices=SAMLSettings.Binding.choices, required=False)
    slo_url = forms.URLField(label="IdP SLO URL", required=False, max_length=2000, assume_scheme="https")
    certificates = forms.CharField(
        label="IdP signing certificates (PEM, one or more)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )

    idp: IdPMetadata
    fetched_from: str | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        source = data.get("source")
        try:
            if source == "url":
                self.idp = self._from_url(data.get("metadata_url") or "")
            elif source == "xml":
                self.idp = parse_idp_metadata(self._xml(data))
            elif source == "manual":
                self.idp = self._manual(data)
        except MetadataError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    def _from_url(self, url: str) -> IdPMetadata:
        if not url:
            raise forms.ValidationError({"metadata_url": "Enter the IdP's metadata URL."})
        idp = parse_idp_metadata(fetch_metadata(url))
        self.fetched_from = url
        return idp

    def _xml(self, data: dict[str, Any]) -> bytes:
        upload = data.get("metadata_file")
        if upload is not None:
            if upload.size > MAX_METADATA_BYTES:
                raise forms.ValidationError({"metadata_file": "This file is too large to be IdP metadata."})
            return upload.read()
        text = data.get("metadata_xml") or ""
        if not text.strip():
            raise forms.ValidationError({"metadata_xml": "Paste the IdP's metadata XML or upload the file."})
        return text.encode()

    def _manual(self, data: dict[str, Any]) -> IdPMetadata:
        errors = {}
        for name, message in (
            ("entity_id", "Enter the IdP's entity ID (its Issuer)."),
            ("sso_url", "Enter the IdP's SSO URL."),
            ("certificates", "Paste at least one IdP signing certificate."),
        ):
            if not (data.get(name) or "").strip():
                errors[name] = message
        if errors:
            raise forms.ValidationError(errors)
        try:
            certificates = load_certificates(split_pem_bundle(data["certificates"]))
        except CertificateError as exc:
            raise forms.ValidationError({"certificates": str(exc)}) from None
        return IdPMetadata(
            entity_id=data["entity_id"].strip(),
            sso_url=data["sso_url"],
            sso_binding=data.get("sso_binding") or SAMLSettings.Binding.REDIRECT,
            slo_url=data.get("slo_url") or "",
            want_authn_requests_signed=False,
            certificates=certificates,
        )


class CreateSAMLForm(IdPSourceForm):
    name = forms.CharField(
        max_length=100,
        required=False,
        validators=[validate_plain_text],
        help_text="What your people call the IdP, e.g. “Okta”.",
    )
    preset = forms.ChoiceField(label="Attribute mapping", choices=preset_choices, initial="entra")

    field_order = ["name", "preset", "source"]


class OptionsForm(forms.Form):
    allow_idp_initiated = forms.BooleanField(
        label="Accept IdP-initiated sign-in (unsolicited responses)",
        required=False,
        help_text="Off is safer: only answers to sign-ins started here are accepted.",
    )
    want_authn_requests_signed = forms.BooleanField(
        label="Sign AuthnRequests with our SP key", required=False, help_text="Turn on when the IdP requires it."
    )
    refuse_expired_certificates = forms.BooleanField(
        label="Refuse expired IdP certificates",
        required=False,
        help_text="Off: a response signed with an IdP certificate past its expiry date is still accepted (and the "
        "dashboard warns). On: it is refused; upload the IdP's new certificate before its old one expires.",
    )


class PresetForm(forms.Form):
    preset = forms.ChoiceField(label="Attribute mapping preset", choices=preset_choices)
