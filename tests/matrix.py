"""The permission matrix every API endpoint inherits (NetBox style).

A test class names its endpoint and how to make objects; it inherits the cases:
anonymous → 401, no permission → 403, other tenant → 404 (never 403, never listed),
permitted → 2xx. Personas come from tests/conftest.py.
"""

from __future__ import annotations


class APIMatrix:
    """Subclass and set ``list_url``; implement ``make_object`` and, for writable
    endpoints, ``create_data`` / ``update_data``."""

    list_url: str = ""
    # A URL resolving to the same view as list_url, when list_url is built per test.
    view_url: str = ""
    read_only: bool = False
    updatable: bool = True
    # A persona holding no permission on this endpoint at all (403 on list and create).
    no_permission: str | None = "viewer"
    # Who may read, as a persona fixture name; writes need ``writer``.
    reader: str = "member"
    writer: str = "tenant_admin"
    # A persona that may read but not write (None when nobody is in between).
    non_writer: str | None = "member"

    def make_object(self, tenant):
        raise TypeError(f"{type(self).__name__} must define make_object(tenant)")

    def detail_url(self, obj) -> str:
        return f"{self.list_url}{self.lookup(obj)}/"

    def lookup(self, obj) -> str:
        return str(obj.pk)

    def create_data(self, tenant) -> dict:
        return {}

    def update_data(self, obj) -> dict:
        return {}

    # -- anonymous -------------------------------------------------------------------
    def test_anonymous_list_is_401(self, anon_client, tenant):
        response = anon_client.get(self.list_url)
        assert response.status_code == 401, response.content
        assert response.json()["code"] == "not_authenticated"

    def test_anonymous_detail_is_401(self, anon_client, tenant):
        obj = self.make_object(tenant)
        response = anon_client.get(self.detail_url(obj))
        assert response.status_code == 401

    # -- permitted reads -------------------------------------------------------------
    def test_reader_lists_own_tenant_only(self, request, api, tenant, other_tenant):
        user = request.getfixturevalue(self.reader)
        mine = self.make_object(tenant)
        theirs = self.make_object(other_tenant)
        response = api(user).get(self.list_url, {"limit": 500})
        assert response.status_code == 200, response.content
        ids = {self.lookup_from_json(row) for row in response.json()["results"]}
        assert self.lookup(mine) in ids
        assert self.lookup(theirs) not in ids

    def test_reader_gets_own_object(self, request, api, tenant):
        user = request.getfixturevalue(self.reader)
        obj = self.make_object(tenant)
        response = api(user).get(self.detail_url(obj))
        assert response.status_code == 200, response.content

    def lookup_from_json(self, row) -> str:
        return str(row["id"])

    def test_no_permission_is_403(self, request, api, tenant):
        if self.no_permission is None:
            return
        client = api(request.getfixturevalue(self.no_permission))
        response = client.get(self.list_url)
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
        if not self.read_only:
            assert client.post(self.list_url, self.create_data(tenant)).status_code == 403

    # -- other tenant: 404 -----------------------------------------------------------
    def test_other_tenant_object_is_404(self, api, other_user, tenant):
        obj = self.make_object(tenant)
        client = api(other_user)
        response = client.get(self.detail_url(obj))
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_found"
        if not self.read_only:
            if self.updatable:
                patched = client.patch(self.detail_url(obj), self.update_data(obj))
                assert patched.status_code == 404
            assert client.delete(self.detail_url(obj)).status_code == 404

    # -- writes ----------------------------------------------------------------------
    def test_non_writer_create_is_403(self, request, api, tenant):
        if self.read_only:
            client = api(request.getfixturevalue(self.writer))
            assert client.post(self.list_url, {}).status_code == 405
            return
        if self.non_writer is None:
            return  # self-service endpoints: everyone may create their own
        client = api(request.getfixturevalue(self.non_writer))
        response = client.post(self.list_url, self.create_data(tenant))
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"

    def test_non_writer_delete_is_403(self, request, api, tenant):
        obj = self.make_object(tenant)
        if self.read_only:
            client = api(request.getfixturevalue(self.reader))
            assert client.delete(self.detail_url(obj)).status_code == 405
            return
        if self.non_writer is None:
            return  # self-service endpoints: others' objects are invisible (404), tested apart
        client = api(request.getfixturevalue(self.non_writer))
        response = client.delete(self.detail_url(obj))
        assert response.status_code == 403, response.content

    def test_writer_creates_updates_deletes(self, request, api, tenant):
        client = api(request.getfixturevalue(self.writer))
        if self.read_only:
            obj = self.make_object(tenant)
            assert client.post(self.list_url, {}).status_code == 405
            assert client.delete(self.detail_url(obj)).status_code == 405
            return
        created = client.post(self.list_url, self.create_data(tenant))
        assert created.status_code == 201, created.content
        obj = self.make_object(tenant)
        updated = client.patch(self.detail_url(obj), self.update_data(obj))
        assert updated.status_code == (200 if self.updatable else 405), updated.content
        deleted = client.delete(self.detail_url(obj))
        assert deleted.status_code == 204, deleted.content
        assert client.get(self.detail_url(obj)).status_code == 404
