// Polyarch through its UniFFI binding, from Kotlin on the JVM: two replicas in two files edit
// offline, sync through the sans-IO protocol, converge, show a conflict, and raise a Kotlin
// exception for bad input. Compiled with the generated dev/polyarch/polyarch_uniffi.kt and run
// with JNA by `cargo xtask test` (xtask/src/suites/native.rs). Usage: Main DIR
import dev.polyarch.*
import java.io.File

fun check(ok: Boolean, what: () -> String) {
    if (!ok) throw AssertionError(what())
}

fun syncInProcess(a: Replica, b: Replica) {
    val sa = SyncSession(a, null)
    val sb = SyncSession(b, null)
    var toB = sa.start()
    var toA = sb.start()
    var rounds = 0
    while (toA.isNotEmpty() || toB.isNotEmpty()) {
        check(++rounds < 50) { "the sessions did not go quiet" }
        val nextToA = toB.flatMap { sb.receive(it) }
        toB = toA.flatMap { sa.receive(it) }
        toA = nextToA
    }
    sa.close()
    sb.close()
}

fun str(s: String): Value = Value.Str(s)

fun main(args: Array<String>) {
    val dir = File(args[0])
    val laptop = Replica.open(File(dir, "laptop.db").path)
    val phone = Replica.open(File(dir, "phone.db").path)

    // Offline, both edit the same event.
    laptop.register("cal", listOf("e1", "title")).set(str("Standup"))
    laptop.orSet("cal", listOf("e1", "guests")).add("ada")
    laptop.counter("cal", listOf("e1", "rsvp")).increment(2L)
    phone.register("cal", listOf("e1", "title")).set(str("Daily"))
    phone.orSet("cal", listOf("e1", "guests")).add("grace")
    phone.counter("cal", listOf("e1", "rsvp")).increment(3L)

    val changes = java.util.concurrent.LinkedBlockingQueue<DocChange>()
    val subscription = laptop.subscribe("cal", object : DocListener {
        override fun onChange(change: DocChange) {
            changes.add(change)
        }
    })

    syncInProcess(laptop, phone)

    // Converged.
    check(laptop.toJson("cal") == phone.toJson("cal")) { "diverged: ${laptop.toJson("cal")} vs ${phone.toJson("cal")}" }
    check(phone.orSet("cal", listOf("e1", "guests")).members() == listOf("ada", "grace")) { "guests" }
    check(laptop.counter("cal", listOf("e1", "rsvp")).value() == 5L) { "rsvp" }
    println("converged: ${laptop.toJson("cal")}")

    // The concurrent titles are a visible conflict, resolved by setting the register.
    val title = phone.register("cal", listOf("e1", "title"))
    val titles = title.conflicts().map { (it as Value.Str).value }.sorted()
    check(titles == listOf("Daily", "Standup")) { "conflict: $titles" }
    println("conflict kept: $titles")
    title.set(str("Design review"))
    syncInProcess(laptop, phone)
    check(laptop.register("cal", listOf("e1", "title")).conflicts() == listOf(str("Design review"))) { "resolved" }

    // The listener heard the remote change, on the event thread.
    val heard = changes.poll(5, java.util.concurrent.TimeUnit.SECONDS)
    check(heard != null && heard.doc == "cal" && heard.peer == phone.deviceId()) { "listener: $heard" }
    subscription.cancel()

    // Bad input is a Kotlin exception with a stable code, and the replica keeps working.
    try {
        SyncSession(laptop, null).receive(byteArrayOf(0xde.toByte(), 0xad.toByte(), 0xbe.toByte(), 0xef.toByte()))
        throw AssertionError("a bad frame was accepted")
    } catch (e: PolyarchException.Failed) {
        check(e.code.startsWith("SYNC_")) { "code ${e.code}" }
        println("bad frame: ${e.code}: ${e.detail}")
    }
    try {
        laptop.counter("cal", listOf("e1", "title")).increment(1L)
        throw AssertionError("a counter over a register was accepted")
    } catch (e: PolyarchException.Failed) {
        check(e.code == "MODEL_TYPE_MISMATCH") { "code ${e.code}" }
    }
    check(laptop.counter("cal", listOf("e1", "rsvp")).value() == 5L) { "still works" }

    laptop.close()
    phone.close()
    println("ok")
}
