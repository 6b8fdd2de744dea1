"""The whole inspector day through the generated Python bindings, against a real server:
enroll, record an inspection offline with a photo and findings, sync, see the hazards in
the server's ledger, receive the safety office's assignment, the responsible person's
rectification, and close the loop by re-inspection."""

import asyncio
import datetime
import sqlite3
import time

import pytest

from conftest import DEMO_PASSWORD, Log, MemorySecretStore, Progress, jpeg, sr


def sync(store, progress=None, cancel=None):
    return asyncio.run(store.sync(progress, cancel))


def enroll(server, tmp_path, login):
    secrets = MemorySecretStore()
    store = asyncio.run(
        sr.enroll(str(tmp_path / f"{login}.db"), server.url, login, DEMO_PASSWORD, f"{login}'s phone", secrets)
    )
    return store, secrets


def token_of(store, secrets):
    return secrets.tokens[store.me().device_id]


def test_the_inspector_day(server, tmp_path):
    log = Log()
    sr.set_logger(log, sr.LogLevel.INFO)

    # Enrol: the token goes to the app's secret store, never into the store file.
    inspector, secrets = enroll(server, tmp_path, "inspector")
    me = inspector.me()
    assert me.name == "王磊" and sr.Role.INSPECTOR in me.roles
    token = token_of(inspector, secrets)
    assert len(token) >= 32
    with sqlite3.connect(tmp_path / "inspector.db") as db:
        assert db.execute("SELECT token FROM device").fetchone() == (None,)
    for f in tmp_path.glob("inspector.db*"):
        assert token.encode() not in f.read_bytes(), f

    # The first sync brings the directory: sites and people.
    progress = Progress()
    first = sync(inspector, progress)
    assert first.requests >= 1 and first.received >= 1
    assert progress.seen and progress.seen[-1].phase == sr.SyncPhase.DONE
    sites = inspector.sites()
    dorm = next(s for s in sites if s.name == "1号学生公寓")
    assert dorm.kind == sr.SiteKind.DORM

    # Offline (the server is unreachable): a whole inspection with a photo and findings.
    inspector.set_server_url("http://127.0.0.1:9")
    started = time.monotonic()
    photo = inspector.add_photo(jpeg(1))
    inspection = inspector.start_inspection(dorm.id, None)
    template = next(t for t in inspector.templates() if t.id == inspector.inspection(inspection).template_id)
    assert template.site_kind == sr.SiteKind.DORM and len(template.items) >= 5
    for item in template.items:
        failed = item.code in ("DORM-02", "DORM-03")
        inspector.answer(
            inspection,
            item.code,
            sr.AnswerResult.FAIL if failed else sr.AnswerResult.PASS,
            "走廊堆放自行车" if item.code == "DORM-02" else "",
            [photo] if item.code == "DORM-02" else [],
            None,
        )
    corridor = inspector.add_finding(
        inspection,
        sr.NewFinding(
            item="DORM-02", category=None, risk=None, location="3F 东侧走廊",
            description="疏散走廊堆放自行车，阻塞通道", photos=[photo],
        ),
    )
    wiring = inspector.add_finding(
        inspection,
        sr.NewFinding(
            item=None, category=sr.HazardCategory.FIRE_SAFETY, risk=sr.RiskGrade.SIGNIFICANT,
            location="305 室", description="宿舍内私拉电线给电动车电池充电", photos=[],
        ),
    )
    inspector.submit_inspection(inspection)
    recorded = time.monotonic() - started
    detail = inspector.inspection(inspection)
    assert detail.submitted_at is not None and set(detail.findings) == {corridor, wiring}
    assert len(detail.answers) == len(template.items)
    assert inspector.unsynced_count() == 3  # the inspection and two hazards

    with pytest.raises(sr.SafeRoundError.Network):
        sync(inspector)
    assert inspector.unsynced_count() == 3  # nothing lost, nothing marked synced
    assert server.get("/api/v1/hazards", token)["total"] == 0

    # Back in range: sync, and the hazards are in the server's ledger with the photo.
    inspector.set_server_url(server.url)
    progress = Progress()
    t = time.monotonic()
    pushed = sync(inspector, progress)
    synced = time.monotonic() - t
    assert pushed.pushed == pushed.acknowledged == 3 and pushed.rejected == [] and pushed.photos_uploaded == 1
    assert inspector.unsynced_count() == 0
    assert progress.seen[-1].phase == sr.SyncPhase.DONE
    assert progress.seen[-1].docs_done == progress.seen[-1].docs_total == 3
    print(f"\ninspection recorded in {recorded * 1000:.0f} ms, synced in {synced * 1000:.0f} ms")
    ledger = server.get("/api/v1/hazards", token)
    assert ledger["total"] == 2
    by_id = {h["id"]: h for h in ledger["hazards"]}
    assert by_id[corridor]["description"] == "疏散走廊堆放自行车，阻塞通道"
    assert by_id[corridor]["status"] == "reported" and by_id[corridor]["inspection"] == inspection
    assert by_id[wiring]["risk"] == "significant" and by_id[wiring]["category"] == "fire_safety"
    assert server.get(f"/api/v1/hazards/{corridor}", token)["photos"]["reported"] == [photo]
    assert server.get(f"/api/v1/blobs/{photo}", token) == jpeg(1)

    # An inspector may not assign: that is the safety office's.
    deadline = (datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date()
                + datetime.timedelta(days=7)).isoformat()
    people = inspector.people()
    # The demo's responsible person 李娜 (login `owner`), who enrols below.
    owner_id = next(p.user_id for p in people if p.name == "李娜")
    plan = sr.Assignment(
        measure="清理走廊，设置电动车集中停放点", responsible_id=owner_id, funds="500 元",
        deadline=deadline, contingency="清理前安排人员值守", reinspector_id=me.user_id,
    )
    with pytest.raises(sr.SafeRoundError.NotAllowed):
        inspector.assign(corridor, plan, "")

    # The safety office, on its own phone through the same bindings, assigns it.
    office, _ = enroll(server, tmp_path, "office")
    sync(office)
    reported = {h.id for h in office.hazards(sr.HazardFilter(status=sr.HazardStatus.REPORTED))}
    assert {corridor, wiring} <= reported
    office.assign(corridor, plan, "限期整改")
    assert office.hazard(corridor).status == sr.HazardStatus.IN_RECTIFICATION
    assert sync(office).rejected == []
    assert server.get(f"/api/v1/hazards/{corridor}", token)["hazard"]["status"] == "in_rectification"

    # The inspector's next sync brings the assignment: they are the named re-inspector.
    sync(inspector)
    h = inspector.hazard(corridor)
    assert h.status == sr.HazardStatus.IN_RECTIFICATION
    assert h.plan.reinspector.user_id == me.user_id and h.plan.deadline == deadline
    assert h.plan.responsible.user_id == owner_id
    assert [x.id for x in inspector.assigned_to_me()] == [corridor]
    assert [x.id for x in inspector.due_soon(10)] == [corridor]
    assert inspector.due_soon(None) == []  # 7 days away: not due within 3
    with pytest.raises(sr.SafeRoundError.NotAllowed):
        inspector.report_rectification(corridor, "已整改", [])
    with pytest.raises(sr.SafeRoundError.Conflict):
        inspector.reinspect(corridor, True, "", [])  # nothing to verify yet

    # The responsible person reports the rectification with an after-photo.
    owner, _ = enroll(server, tmp_path, "owner")
    sync(owner)
    mine = owner.assigned_to_me()
    assert [x.id for x in mine] == [corridor] and mine[0].deadline == deadline
    after = owner.add_photo(jpeg(2))
    owner.report_rectification(corridor, "自行车已清走，已设置集中停放点", [after])
    done = sync(owner)
    assert done.rejected == [] and done.photos_uploaded == 1
    assert server.get(f"/api/v1/hazards/{corridor}", token)["hazard"]["status"] == "awaiting_verification"

    # The re-inspector verifies: the hazard is written off 销号, on the phone and server.
    sync(inspector)
    assert inspector.hazard(corridor).status == sr.HazardStatus.AWAITING_VERIFICATION
    # The owner's after-photo is not on this phone until it is looked at: then it is
    # downloaded, checked against its hash, and kept.
    with pytest.raises(sr.SafeRoundError.NotFound):
        inspector.photo(after)
    assert asyncio.run(inspector.fetch_photo(after)) == jpeg(2)
    assert inspector.photo(after) == jpeg(2)
    with pytest.raises(sr.SafeRoundError.NotFound):
        asyncio.run(inspector.fetch_photo("ab" * 32))
    inspector.reinspect(corridor, True, "复核通过", [])
    sync(inspector)
    assert inspector.assigned_to_me() == []
    closed = server.get(f"/api/v1/hazards/{corridor}", token)
    assert closed["hazard"]["status"] == "closed"
    assert [e["kind"] for e in closed["events"]] == [
        "reported", "assigned", "rectification_reported", "verified",
    ]
    assert {"hash": after, "event": "rectification_reported"} in closed["photos"]["events"]
    events = inspector.hazard(corridor).events
    assert [e.kind for e in events] == [
        sr.EventKind.REPORTED, sr.EventKind.ASSIGNED,
        sr.EventKind.RECTIFICATION_REPORTED, sr.EventKind.VERIFIED,
    ]
    assert events[2].photos == [after] and events[2].by.user_id == owner_id
    # The other finding is still open in the ledger.
    assert server.get(f"/api/v1/hazards?status=reported", token)["total"] == 1

    # The look-back 回头看: the inspector reopens the closed hazard from the phone.
    inspector.reopen(corridor, "回头看：走廊又停放了自行车")
    assert sync(inspector).rejected == []
    assert server.get(f"/api/v1/hazards/{corridor}", token)["hazard"]["status"] == "reported"
    # The office's phone defers the other finding and, once graded major, lists it for
    # supervision 挂牌督办; the inspector's phone may do neither.
    sync(office)
    with pytest.raises(sr.SafeRoundError.Conflict):
        office.list_for_supervision(wiring, "更换线路")  # not a major hazard yet
    office.regrade(wiring, sr.RiskGrade.MAJOR, "线路老化严重，升级为重大")
    office.defer(wiring, "断电停用，设置警示标识", owner_id, "寒假施工")
    office.list_for_supervision(wiring, "寒假期间更换全部线路；资金两万元；后勤管理处负责")
    with pytest.raises(sr.SafeRoundError.NotAllowed):
        inspector.defer(wiring, "x", owner_id, "")
    with pytest.raises(sr.SafeRoundError.NotAllowed):
        inspector.list_for_supervision(wiring, "x")
    assert sync(office).rejected == []
    w = server.get(f"/api/v1/hazards/{wiring}", token)
    assert w["hazard"]["status"] == "deferred" and w["hazard"]["risk"] == "major"
    assert [e["kind"] for e in w["events"]][-3:] == [
        "regraded", "deferred", "listed_for_supervision",
    ]

    # The library's log reached the platform logger.
    assert any("sync finished" in m for _, _, m in log.lines), log.lines
    sr.clear_logger()


def test_reports_reach_the_server(server, tmp_path):
    inspector, secrets = enroll(server, tmp_path, "inspector")
    sync(inspector)
    weekly = inspector.file_weekly_report(True, "")
    incident = inspector.file_incident(
        sr.NewIncident(
            occurred_at=None, site_id=inspector.sites()[0].id, location="门口",
            category=sr.HazardCategory.GATE_CONTROL, severity=sr.RiskGrade.GENERAL,
            title="陌生人尾随进入", description="下午 3 点一名陌生人尾随学生进入，已劝离",
            actions_taken="已登记并加强门岗",
        )
    )
    assert inspector.weekly_report(weekly).all_clear
    assert inspector.incident(incident).title == "陌生人尾随进入"
    kinds = {r.id: r.kind for r in inspector.reports()}
    assert kinds == {weekly: sr.ReportKind.WEEKLY, incident: sr.ReportKind.INCIDENT}
    summary = sync(inspector)
    assert summary.pushed == summary.acknowledged == 2 and summary.rejected == []
    # The safety office's phone receives both.
    office, _ = enroll(server, tmp_path, "office")
    sync(office)
    assert {r.id for r in office.reports()} == {weekly, incident}
