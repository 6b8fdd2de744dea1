"""Times a full inspection driven from Python through the generated bindings, and its sync
to a real saferound-server: the phone library's figure in docs/BENCHMARKS.md.

  scripts/bindings.sh target/bindings   # or the release library: see mobile-bindings/README.md
  SAFEROUND_BINDINGS=target/bindings/python SAFEROUND_SERVER=target/release/saferound-server \\
    python3 mobile-bindings/bench/inspection_sync.py [rounds]

Each round: a photo, an inspection of 20 answers (one failed with the photo), 3 findings,
submitted (the 4 documents a typical walk of one site makes), then one sync. Prints the
median and the slowest round.
"""

import asyncio
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from conftest import DEMO_PASSWORD, MemorySecretStore, Server, jpeg, sr  # noqa: E402


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "server").mkdir()
        server = Server(tmp / "server")
        try:
            store = asyncio.run(
                sr.enroll(str(tmp / "phone.db"), server.url, "inspector", DEMO_PASSWORD,
                          "bench phone", MemorySecretStore())
            )
            asyncio.run(store.sync(None, None))
            dorm = next(s for s in store.sites() if s.name == "1号学生公寓")
            record_ms, sync_ms = [], []
            for n in range(rounds):
                started = time.perf_counter()
                photo = store.add_photo(jpeg(n + 1))
                inspection = store.start_inspection(dorm.id, None)
                template_id = store.inspection(inspection).template_id
                items = next(t for t in store.templates() if t.id == template_id).items
                for k in range(20):
                    item = items[k % len(items)]
                    fail = k == 1
                    store.answer(inspection, item.code,
                                 sr.AnswerResult.FAIL if fail else sr.AnswerResult.PASS,
                                 "走廊堆放杂物" if fail else "", [photo] if fail else [], None)
                for k in range(3):
                    store.add_finding(inspection, sr.NewFinding(
                        item=None, category=sr.HazardCategory.FIRE_SAFETY, risk=sr.RiskGrade.GENERAL,
                        location=f"{k + 1}F", description=f"发现隐患 {k}：疏散通道堆放杂物",
                        photos=[photo] if k == 0 else []))
                store.submit_inspection(inspection)
                recorded = time.perf_counter()
                summary = asyncio.run(store.sync(None, None))
                done = time.perf_counter()
                assert summary.rejected == [] and summary.pushed == 4, summary
                record_ms.append((recorded - started) * 1000)
                sync_ms.append((done - recorded) * 1000)
            print(f"inspection (20 answers, 3 findings, 1 photo) through the bindings: "
                  f"median {statistics.median(record_ms):.0f} ms, slowest {max(record_ms):.0f} ms; "
                  f"its sync (4 documents + photo): median {statistics.median(sync_ms):.0f} ms, "
                  f"slowest {max(sync_ms):.0f} ms; {rounds} rounds")
        finally:
            server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
