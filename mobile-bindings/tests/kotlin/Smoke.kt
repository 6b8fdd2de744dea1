// Smoke test of the generated Kotlin bindings on the JVM through JNA, as an Android app
// uses them: open a store, list templates and sites, start an inspection, answer, and
// errors arriving as the right SafeRoundException subclass; a suspend call and a
// callback interface implemented in Kotlin. Exits non-zero on the first failure.

import java.nio.file.Files
import java.util.UUID
import kotlinx.coroutines.runBlocking
import uniffi.saferound_mobile.*

fun check(ok: Boolean, what: String) {
    if (!ok) throw AssertionError(what)
}

inline fun <reified E : Throwable> expect(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${E::class.simpleName}, nothing was thrown")
}

class KeychainStandIn : SecretStore {
    val asked = mutableListOf<String>()
    override fun saveToken(deviceId: String, token: String) {}
    override fun loadToken(deviceId: String): String? {
        asked.add(deviceId)
        return null
    }
    override fun deleteToken(deviceId: String) {}
}

fun main() {
    val dir = Files.createTempDirectory("saferound-kotlin")
    val path = dir.resolve("phone.db").toString()

    val store = SafeRoundStore.openDemo(path, "inspector")
    val me = store.me()
    check(me.name == "王磊" && me.roles == listOf(Role.INSPECTOR), "me: $me")

    val templates = store.templates()
    check(templates.any { it.siteKind == SiteKind.DORM && it.items.isNotEmpty() }, "templates")
    val dorm = store.sites().first { it.kind == SiteKind.DORM }
    val inspection = store.startInspection(dorm.id, null)
    val item = store.inspection(inspection).templateId.let { id -> templates.first { it.id == id }.items.first() }
    store.answer(inspection, item.code, AnswerResult.PASS, "", listOf(), null)
    val photo = store.addPhoto(byteArrayOf(0xFF.toByte(), 0xD8.toByte(), 0xFF.toByte(), 0xE0.toByte(), 1, 2, 3))
    store.answer(inspection, "DORM-02", AnswerResult.FAIL, "走廊堆放自行车", listOf(photo), null)
    val finding = store.addFinding(
        inspection,
        NewFinding("DORM-02", null, null, "3F", "疏散走廊堆放自行车", listOf(photo)),
    )
    store.submitInspection(inspection)
    val detail = store.inspection(inspection)
    check(detail.answers.size == 2 && detail.submittedAt != null && detail.findings == listOf(finding), "inspection: $detail")
    check(store.hazard(finding).status == HazardStatus.REPORTED, "hazard status")
    check(store.unsyncedCount() == 2UL, "unsynced: the inspection and its finding")

    // Errors arrive as the right class, with the field.
    val bad = expect<SafeRoundException.InvalidInput>("unknown item") {
        store.answer(inspection, "NO-SUCH-ITEM", AnswerResult.PASS, "", listOf(), "x")
    }
    check(bad.field == "item", "field: ${bad.field}")
    val big = expect<SafeRoundException.InvalidInput>("oversize photo") {
        store.addPhoto(ByteArray(maxPhotoBytes().toInt() + 1) { if (it < 3) 0xFF.toByte() else 0 })
    }
    check(big.field == "photo", "photo field")
    expect<SafeRoundException.NotFound>("unknown hazard") { store.hazard(UUID.randomUUID().toString()) }
    expect<SafeRoundException.Conflict>("submitted twice") { store.submitInspection(inspection) }
    expect<SafeRoundException.NotAllowed>("assign as an inspector") {
        store.assign(finding, Assignment("m", me.userId, "", "2099-01-01", "", null), "")
    }

    // A suspend function, and a secret store implemented in Kotlin.
    val keychain = KeychainStandIn()
    val reopened = SafeRoundStore.open(path, me.institutionId, me.userId, "http://127.0.0.1:9", keychain)
    val noToken = expect<SafeRoundException.NotAuthenticated>("sync without a token") {
        runBlocking { reopened.sync(null, CancelToken()) }
    }
    check("token" in noToken.reason, "reason: ${noToken.reason}")
    check(keychain.asked == listOf(me.deviceId), "the secret store was asked: ${keychain.asked}")
    check(hazardCategoryLabel(HazardCategory.FIRE_SAFETY, Language.ZH) == "消防安全", "label")
    println("kotlin smoke test: ok (${templates.size} templates, inspection $inspection)")
}
