"""What ``make idp`` tells people to run: the product on the port the IdPs trust."""

from tests.e2e.devidp import serve_command


def test_make_idp_names_the_port_it_was_given():
    # `make idp APP_URL=http://localhost:8410` used to say `... make run`, which serves on 8000, where the IdPs'
    # trusted ACS URL and redirect URI do not point.
    assert serve_command("http://localhost:8410") == "SSO_METADATA_ALLOW_PRIVATE_HOSTS=1 make run PORT=8410"


def test_make_idp_keeps_the_default_command_for_port_8000():
    assert serve_command("http://localhost:8000") == "SSO_METADATA_ALLOW_PRIVATE_HOSTS=1 make run"
