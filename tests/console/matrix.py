"""The permission matrix every console page inherits (the API's, tests/matrix.py, for pages).

A test class names its page (``url``, or ``url_for(tenant)`` when the page is about an
object) and the text a permitted reader must see; it inherits: anonymous → the sign-in page
(with ``next``), a persona without the page's permission → the console's 403 with a
"Why can't I?" link, another tenant's object → 404, permitted → 200 with the content.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest


class ConsoleMatrix:
    url: str = ""
    # For pages about an object (url_for builds the URL): the route they test.
    url_name: str = ""
    # Text a permitted reader sees on the page (proves the page, not just a 200).
    expect: str = ""
    reader: str = "member"
    # A persona who may not open the page (None: every signed-in user may).
    no_permission: str | None = "viewer"
    # Set for pages about one object of a tenant: the other tenant's user gets 404.
    object_page: bool = False

    def url_for(self, tenant) -> str:
        return self.url

    def make_object(self, tenant):
        return None

    def test_anonymous_goes_to_sign_in(self, client, tenant):
        self.make_object(tenant)
        url = self.url_for(tenant)
        response = client.get(url)
        assert response.status_code == 302, response.content[:500]
        target = urlsplit(response["Location"])
        assert target.path == "/login/"
        assert f"next={urlsplit(url).path}" in target.query.replace("%2F", "/")

    def test_reader_sees_the_page(self, request, client, tenant):
        self.make_object(tenant)
        client.force_login(request.getfixturevalue(self.reader))
        response = client.get(self.url_for(tenant))
        assert response.status_code == 200, response.content[:2000]
        assert self.expect in response.content.decode()

    def test_no_permission_is_the_console_403(self, request, client, tenant):
        if self.no_permission is None:
            return self.every_signed_in_user_may_open_it(request, client, tenant)
        self.make_object(tenant)
        client.force_login(request.getfixturevalue(self.no_permission))
        response = client.get(self.url_for(tenant))
        assert response.status_code == 403, response.content[:2000]
        page = response.content.decode()
        assert 'id="forbidden"' in page and 'id="why-link"' in page
        assert self.expect not in page

    def every_signed_in_user_may_open_it(self, request, client, tenant):
        client.force_login(request.getfixturevalue("viewer"))
        assert client.get(self.url_for(tenant)).status_code == 200

    def test_other_tenant_gets_404(self, client, tenant, other_user):
        if not self.object_page:
            return self.other_tenant_sees_none_of_it(client, tenant, other_user)
        self.make_object(tenant)
        client.force_login(other_user)
        response = client.get(self.url_for(tenant))
        assert response.status_code == 404
        assert 'id="not-found"' in response.content.decode()

    def other_tenant_sees_none_of_it(self, client, tenant, other_user):
        """A page of the user's own tenant: another tenant's user sees their own (empty),
        never this tenant's content."""
        self.make_object(tenant)
        client.force_login(other_user)
        response = client.get(self.url_for(tenant))
        assert response.status_code in (200, 403)
        assert self.expect_of_tenant(tenant) not in response.content.decode()

    def expect_of_tenant(self, tenant) -> str:
        """Text only this tenant's page contains (its object's name, say): a page class that
        is not an ``object_page`` must say what it is."""
        raise TypeError(f"{type(self).__name__} must define expect_of_tenant(tenant)")


class LiveClusterMatrix(ConsoleMatrix):
    """A matrix whose object lives in a kubesim cluster imported into the tenant
    (``self.cluster``); subclasses create the object in it after ``super().make_object``."""

    object_page = True

    @pytest.fixture(autouse=True)
    def _sim(self, sim_cluster):
        self.sim = sim_cluster

    def make_object(self, tenant):
        from tests.console.test_forms import import_cluster

        self.cluster = import_cluster(tenant, self.sim)
