"""XML Schema validation of SAML messages with XML Encryption 1.1 understood (SAML Core §6, XML Encryption 1.1 §5.5.2).

python3-saml validates every message against its bundled SAML 2.0 schemas in strict mode. Those import XML Encryption
1.0, whose ``EncryptionMethod`` admits elements of other namespaces only when a schema declares them (a strict
wildcard), so an EncryptedKey using ``http://www.w3.org/2009/xmlenc11#rsa-oaep`` with its ``xenc11:MGF`` element
(as Entra ID and ADFS send it) failed the schema although it is valid. ``install()`` adds the declaration of
``xenc11:MGF`` (``xenc-schema-11-mgf.xsd`` beside this file) to every schema python3-saml compiles; everything else
is validated exactly as before.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

XMLENC11_NS = "http://www.w3.org/2009/xmlenc11#"
XMLENC11_SCHEMA = Path(__file__).with_name("xenc-schema-11-mgf.xsd")
_XS = "http://www.w3.org/2001/XMLSchema"


def schema_with_xmlenc11(document: etree._ElementTree) -> etree.XMLSchema:
    """Compile the parsed schema ``document`` (one of python3-saml's bundled XSDs) with an import of the
    xenc11 declarations added. Raises lxml.etree.XMLSchemaParseError when the schema does not compile."""
    root = document.getroot()
    if root.tag == f"{{{_XS}}}schema" and root.find(f"{{{_XS}}}import[@namespace='{XMLENC11_NS}']") is None:
        imported = etree.SubElement(root, f"{{{_XS}}}import")
        imported.set("namespace", XMLENC11_NS)
        imported.set("schemaLocation", XMLENC11_SCHEMA.as_uri())
        # xs:import must precede the schema's declarations (XML Schema Part 1 §3.15.2).
        root.remove(imported)
        root.insert(_last_import_position(root), imported)
    return etree.XMLSchema(document)


def _last_import_position(root: etree._Element) -> int:
    position = 0
    for index, child in enumerate(root):
        if child.tag in (f"{{{_XS}}}import", f"{{{_XS}}}include", f"{{{_XS}}}redefine"):
            position = index + 1
    return position


def install() -> None:
    """Make python3-saml compile its schemas with ``schema_with_xmlenc11`` (its ``_schema_class`` hook); idempotent."""
    OneLogin_Saml2_XML._schema_class = staticmethod(schema_with_xmlenc11)
