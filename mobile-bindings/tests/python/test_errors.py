"""Error paths arrive in Python as exceptions of the right class, with the field or reason
an app can act on, and change nothing."""

import asyncio
import uuid

import pytest

from conftest import DEMO_PASSWORD, MemorySecretStore, Progress, jpeg, sr


def sync(store, progress=None, cancel=None):
    return asyncio.run(store.sync(progress, cancel))


def enroll(server, tmp_path, login, password=DEMO_PASSWORD, secrets=None):
    return asyncio.run(
        sr.enroll(str(tmp_path / f"{login}.db"), server.url, login, password, "phone",
                  secrets or MemorySecretStore())
    )


def test_a_wrong_password_is_not_authenticated_and_creates_nothing(server, tmp_path):
    with pytest.raises(sr.SafeRoundError.NotAuthenticated) as e:
        enroll(server, tmp_path, "inspector", password="wrong-password")
    assert "wrong-password" not in str(e.value)
    with pytest.raises(sr.SafeRoundError.NotAuthenticated):
        enroll(server, tmp_path, "nobody")
    assert list(tmp_path.glob("*.db*")) == []


def test_an_unreachable_server_is_a_network_error(tmp_path):
    with pytest.raises(sr.SafeRoundError.Network):
        asyncio.run(sr.enroll(str(tmp_path / "a.db"), "http://127.0.0.1:9", "inspector",
                              DEMO_PASSWORD, "phone", MemorySecretStore()))
    with pytest.raises(sr.SafeRoundError.InvalidInput) as e:
        asyncio.run(sr.enroll(str(tmp_path / "a.db"), "ftp://x", "inspector", DEMO_PASSWORD,
                              "phone", MemorySecretStore()))
    assert e.value.field == "server_url"


def test_a_secret_store_that_fails_leaves_no_store_behind(server, tmp_path):
    class Broken(MemorySecretStore):
        def save_token(self, device_id, token):
            raise sr.SafeRoundError.Storage("keystore locked")

    with pytest.raises(sr.SafeRoundError.Storage):
        enroll(server, tmp_path, "inspector", secrets=Broken())
    assert list(tmp_path.glob("inspector.db*")) == []


def test_input_errors_name_the_field(tmp_path):
    store = sr.SafeRoundStore.open_demo(str(tmp_path / "demo.db"), "inspector")
    # A photo past the size limit, and bytes that are not a photo.
    with pytest.raises(sr.SafeRoundError.InvalidInput) as e:
        store.add_photo(jpeg(1, size=sr.max_photo_bytes()))
    assert e.value.field == "photo" and str(sr.max_photo_bytes()) in e.value.reason
    with pytest.raises(sr.SafeRoundError.InvalidInput) as e:
        store.add_photo(b"<html>not a photo</html>")
    assert e.value.field == "photo"
    site = next(s for s in store.sites() if s.kind == sr.SiteKind.KITCHEN)
    inspection = store.start_inspection(site.id, None)
    with pytest.raises(sr.SafeRoundError.InvalidInput) as e:
        store.answer(inspection, "NO-SUCH-ITEM", sr.AnswerResult.PASS, "", [], None)
    assert e.value.field == "item"
    with pytest.raises(sr.SafeRoundError.InvalidInput) as e:
        store.answer(inspection, store.templates()[0].items[0].code, sr.AnswerResult.PASS, "", ["beef"], None)
    assert e.value.field == "photos"
    with pytest.raises(sr.SafeRoundError.InvalidInput) as e:
        store.hazard("not-an-id")
    assert e.value.field == "hazard_id"
    with pytest.raises(sr.SafeRoundError.InvalidInput) as e:
        store.submit_inspection(inspection)  # nothing answered yet
    assert e.value.field == "answers"
    assert store.inspection(inspection).answers == []


def test_unknown_ids_are_not_found(tmp_path):
    store = sr.SafeRoundStore.open_demo(str(tmp_path / "demo.db"), "inspector")
    unknown = str(uuid.uuid4())
    with pytest.raises(sr.SafeRoundError.NotFound) as e:
        store.hazard(unknown)
    assert e.value.what == "hazard" and e.value.id == unknown
    with pytest.raises(sr.SafeRoundError.NotFound):
        store.inspection(unknown)
    with pytest.raises(sr.SafeRoundError.NotFound) as e:
        store.start_inspection(unknown, None)
    assert e.value.what == "site"
    with pytest.raises(sr.SafeRoundError.NotFound):
        store.photo("0" * 64)
    with pytest.raises(sr.SafeRoundError.NotFound):
        sr.SafeRoundStore.open(str(tmp_path / "missing.db"), unknown, unknown, "http://x", MemorySecretStore())


def test_actions_beyond_the_role_are_not_allowed(tmp_path):
    owner = sr.SafeRoundStore.open_demo(str(tmp_path / "owner.db"), "owner")
    site = owner.sites()[0]
    with pytest.raises(sr.SafeRoundError.NotAllowed) as e:
        owner.start_inspection(site.id, None)  # a responsible person does not inspect
    assert e.value.who
    inspector = sr.SafeRoundStore.open_demo(str(tmp_path / "inspector.db"), "inspector")
    me = inspector.me()
    # Another user may not open this store on a shared phone.
    with pytest.raises(sr.SafeRoundError.NotAllowed):
        sr.SafeRoundStore.open(str(tmp_path / "inspector.db"), me.institution_id,
                               owner.me().user_id, "http://x", MemorySecretStore())


def test_state_conflicts(tmp_path):
    store = sr.SafeRoundStore.open_demo(str(tmp_path / "demo.db"), "inspector")
    site = next(s for s in store.sites() if s.kind == sr.SiteKind.DORM)
    inspection = store.start_inspection(site.id, None)
    store.answer(inspection, "DORM-01", sr.AnswerResult.PASS, "", [], None)
    store.submit_inspection(inspection)
    with pytest.raises(sr.SafeRoundError.Conflict):
        store.submit_inspection(inspection)
    with pytest.raises(sr.SafeRoundError.Conflict):
        store.answer(inspection, "DORM-01", sr.AnswerResult.FAIL, "", [], None)
    # With a reason the amendment is recorded.
    store.answer(inspection, "DORM-01", sr.AnswerResult.FAIL, "", [], "看错了")
    assert store.inspection(inspection).answers[0].result == sr.AnswerResult.FAIL


def test_sync_without_a_token_or_with_a_revoked_one(server, tmp_path):
    secrets = MemorySecretStore()
    store = enroll(server, tmp_path, "inspector", secrets=secrets)
    device = store.me().device_id
    secrets.tokens[device] = "0" * 64  # a token the server does not know
    with pytest.raises(sr.SafeRoundError.NotAuthenticated):
        sync(store)
    store.sign_out()
    assert secrets.tokens == {}
    with pytest.raises(sr.SafeRoundError.NotAuthenticated):
        sync(store)
    demo = sr.SafeRoundStore.open_demo(str(tmp_path / "demo.db"), "inspector")
    with pytest.raises(sr.SafeRoundError.NotAuthenticated):
        sync(demo)


def make_inspections(store, n):
    site = next(s for s in store.sites() if s.kind == sr.SiteKind.DORM)
    for _ in range(n):
        i = store.start_inspection(site.id, None)
        store.answer(i, "DORM-01", sr.AnswerResult.PASS, "", [], None)


def test_a_sync_can_be_cancelled_and_resumes_later(server, tmp_path):
    store = enroll(server, tmp_path, "inspector")
    sync(store)
    make_inspections(store, 520)  # more than one request's worth (500 records)
    assert store.unsynced_count() == 520

    # Cancelled before it starts: nothing sent.
    cancel = sr.CancelToken()
    cancel.cancel()
    with pytest.raises(sr.SafeRoundError.Cancelled):
        sync(store, None, cancel)
    assert store.unsynced_count() == 520

    # Cancelled after the first request: what the server acknowledged stays so.
    cancel = sr.CancelToken()
    progress = Progress(cancel_after_first=cancel)
    with pytest.raises(sr.SafeRoundError.Cancelled):
        sync(store, progress, cancel)
    assert len(progress.seen) == 1 and progress.seen[0].docs_done == 500
    assert store.unsynced_count() == 20

    # The next sync finishes the rest.
    summary = sync(store)
    assert summary.rejected == [] and store.unsynced_count() == 0


def test_one_sync_at_a_time_and_the_caller_is_not_blocked(server, tmp_path):
    store = enroll(server, tmp_path, "inspector")
    sync(store)
    make_inspections(store, 300)

    async def both():
        ticks = 0
        first = asyncio.ensure_future(store.sync(None, None))
        await asyncio.sleep(0)
        with pytest.raises(sr.SafeRoundError.Conflict):
            await store.sync(None, None)
        while not first.done():  # the event loop keeps running while the sync works
            ticks += 1
            await asyncio.sleep(0.001)
        return await first, ticks

    summary, ticks = asyncio.run(both())
    assert summary.rejected == [] and store.unsynced_count() == 0
    assert ticks > 0
