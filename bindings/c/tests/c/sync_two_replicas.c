/*
 * Two replicas in two files edit offline, sync by passing frames in memory, and converge; a
 * concurrent register edit shows as a conflict and is resolved; both type into one text at
 * once; a set member is removed; typed reads agree after sync; bad arguments and a bad frame
 * fail cleanly; an image round trips. Built against include/polyarch.h and run under valgrind
 * by `cargo xtask test` (xtask/src/suites/native.rs). Usage: sync_two_replicas DIR (an
 * existing, empty directory).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polyarch.h"

#define CHECK(call)                                                                          \
    do {                                                                                     \
        if ((call) != POLYARCH_STATUS_OK) {                                                  \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,         \
                    polyarch_last_error_code(), polyarch_last_error_message());              \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

#define EXPECT(cond)                                                                         \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);              \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* Checks that a string handed out by the library equals `want`, then frees it. */
#define EXPECT_STRING(got, want)                                                             \
    do {                                                                                     \
        char *got_ = (got);                                                                  \
        if (strcmp(got_, (want)) != 0) {                                                     \
            fprintf(stderr, "%s:%d: got %s, want %s\n", __FILE__, __LINE__, got_, (want));   \
            exit(1);                                                                         \
        }                                                                                    \
        polyarch_string_free(got_);                                                          \
    } while (0)

/* Frames in flight towards one side: a list of PolyarchFrames batches. */
typedef struct {
    PolyarchFrames *batches[64];
    size_t count;
} Mailbox;

static void post(Mailbox *box, PolyarchFrames *frames) {
    EXPECT(box->count < 64);
    box->batches[box->count++] = frames;
}

/* Hands every frame in `inbox` to (s, r); replies go to `outbox`. Returns how many frames
 * were delivered. */
static size_t deliver(PolyarchSession *s, PolyarchReplica *r, Mailbox *inbox, Mailbox *outbox) {
    size_t delivered = 0;
    Mailbox taken = *inbox;
    inbox->count = 0;
    for (size_t b = 0; b < taken.count; b++) {
        for (size_t i = 0; i < polyarch_frames_count(taken.batches[b]); i++) {
            size_t len = 0;
            const uint8_t *frame = polyarch_frames_get(taken.batches[b], i, &len);
            PolyarchFrames *reply = NULL;
            CHECK(polyarch_session_receive(s, r, frame, len, &reply));
            post(outbox, reply);
            delivered++;
        }
        polyarch_frames_free(taken.batches[b]);
    }
    return delivered;
}

static void sync_pair(PolyarchReplica *a, PolyarchReplica *b) {
    PolyarchSession *sa = polyarch_session_new(NULL);
    PolyarchSession *sb = polyarch_session_new(NULL);
    Mailbox to_a = {0}, to_b = {0};
    PolyarchFrames *hello = NULL;
    CHECK(polyarch_session_start(sa, a, &hello));
    post(&to_b, hello);
    CHECK(polyarch_session_start(sb, b, &hello));
    post(&to_a, hello);
    int rounds = 0;
    while (deliver(sb, b, &to_b, &to_a) + deliver(sa, a, &to_a, &to_b) > 0) {
        EXPECT(++rounds < 50);
    }
    /* Both mailboxes hold only empty batches now. */
    deliver(sa, a, &to_a, &to_b);
    deliver(sb, b, &to_b, &to_a);
    polyarch_session_free(sa);
    polyarch_session_free(sb);
}

static char *json(PolyarchReplica *r, const char *doc) {
    char *out = NULL;
    CHECK(polyarch_doc_to_json(r, doc, &out));
    return out;
}

static char *text(PolyarchReplica *r, const char *path) {
    char *out = NULL;
    CHECK(polyarch_text_value(r, "cal", path, &out));
    return out;
}

static char *register_get(PolyarchReplica *r, const char *path) {
    char *out = NULL;
    CHECK(polyarch_register_get_json(r, "cal", path, &out));
    return out;
}

static char *members(PolyarchReplica *r, const char *path) {
    char *out = NULL;
    CHECK(polyarch_set_members_json(r, "cal", path, &out));
    return out;
}

/* After concurrent typing, a removal, a decrement and a resolved conflict, both replicas
 * read the same typed values. */
static void edit_concurrently_then_agree(PolyarchReplica *laptop, PolyarchReplica *phone) {
    CHECK(polyarch_text_splice(laptop, "cal", "events/e1/notes", 0, 0, "Agenda"));
    sync_pair(laptop, phone);
    /* The laptop appends; the phone prefixes and lowercases the first letter. */
    CHECK(polyarch_text_splice(laptop, "cal", "events/e1/notes", 6, 0, ": ship it"));
    CHECK(polyarch_text_splice(phone, "cal", "events/e1/notes", 0, 0, "Q3 "));
    CHECK(polyarch_text_splice(phone, "cal", "events/e1/notes", 3, 1, "a"));
    /* Positions count characters, not bytes. */
    CHECK(polyarch_text_splice(phone, "cal", "events/e1/mood", 0, 0, "na\xc3\xafve"));
    CHECK(polyarch_text_splice(phone, "cal", "events/e1/mood", 5, 0, "!"));
    CHECK(polyarch_set_remove(phone, "cal", "events/e1/guests", "ada"));
    CHECK(polyarch_counter_increment(laptop, "cal", "events/e1/rsvp", -1));
    /* Resolve the title conflict by writing back the value chosen from the conflicts. */
    CHECK(polyarch_register_set_json(laptop, "cal", "events/e1/title",
                                     "{\"type\":\"str\",\"value\":\"Daily\"}"));

    sync_pair(laptop, phone);

    PolyarchReplica *both[] = {laptop, phone};
    for (size_t i = 0; i < 2; i++) {
        PolyarchReplica *r = both[i];
        EXPECT_STRING(text(r, "events/e1/notes"), "Q3 agenda: ship it");
        EXPECT_STRING(text(r, "events/e1/mood"), "na\xc3\xafve!");
        EXPECT_STRING(text(r, "events/e1/none"), "");
        EXPECT_STRING(members(r, "events/e1/guests"), "[\"grace\"]");
        bool found = true;
        CHECK(polyarch_set_contains(r, "cal", "events/e1/guests", "ada", &found));
        EXPECT(!found);
        int64_t rsvp = 0;
        CHECK(polyarch_counter_value(r, "cal", "events/e1/rsvp", &rsvp));
        EXPECT(rsvp == 4);
        EXPECT_STRING(register_get(r, "events/e1/title"),
                      "{\"type\":\"str\",\"value\":\"Daily\"}");
        EXPECT_STRING(register_get(r, "events/e1/room"), "{\"type\":\"int\",\"value\":101}");
        EXPECT_STRING(register_get(r, "events/e1/never"), "null");
        char *conflicts = NULL;
        CHECK(polyarch_register_conflicts_json(r, "cal", "events/e1/title", &conflicts));
        EXPECT_STRING(conflicts, "[{\"type\":\"str\",\"value\":\"Daily\"}]");
    }
    char *ja = json(laptop, "cal"), *jb = json(phone, "cal");
    EXPECT(strcmp(ja, jb) == 0);
    printf("typed edits converged: %s\n", ja);
    polyarch_string_free(ja);
    polyarch_string_free(jb);

    /* Mistakes fail with a status and a code, never a crash. */
    EXPECT(polyarch_text_splice(laptop, "cal", "events/e1/notes", 99, 1, NULL) ==
           POLYARCH_STATUS_FAILED);
    EXPECT(strcmp(polyarch_last_error_code(), "MODEL_INDEX_OUT_OF_RANGE") == 0);
    EXPECT(polyarch_text_splice(NULL, "cal", "events/e1/notes", 0, 0, "x") ==
           POLYARCH_STATUS_INVALID_ARGUMENT);
    EXPECT(polyarch_counter_value(laptop, "cal", "events/e1/rsvp", NULL) ==
           POLYARCH_STATUS_INVALID_ARGUMENT);
    EXPECT(polyarch_set_members_json(laptop, "cal", NULL, NULL) ==
           POLYARCH_STATUS_INVALID_ARGUMENT);
    EXPECT(polyarch_register_set_json(laptop, "cal", "events/e1/title", "\"Daily\"") ==
           POLYARCH_STATUS_INVALID_ARGUMENT);
    EXPECT(polyarch_counter_value(laptop, "cal", "events/e1/title", &(int64_t){0}) ==
           POLYARCH_STATUS_FAILED);
    EXPECT(strcmp(polyarch_last_error_code(), "MODEL_TYPE_MISMATCH") == 0);
    /* Deleting with a NULL insert works. */
    CHECK(polyarch_text_splice(laptop, "cal", "events/e1/notes", 9, 9, NULL));
    EXPECT_STRING(text(laptop, "events/e1/notes"), "Q3 agenda");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char path_a[4096], path_b[4096], path_c[4096];
    snprintf(path_a, sizeof path_a, "%s/laptop.db", argv[1]);
    snprintf(path_b, sizeof path_b, "%s/phone.db", argv[1]);
    snprintf(path_c, sizeof path_c, "%s/restored.db", argv[1]);

    PolyarchReplica *laptop = NULL, *phone = NULL;
    CHECK(polyarch_replica_open(path_a, &laptop));
    CHECK(polyarch_replica_open(path_b, &phone));

    /* Offline, both edit the same event. */
    CHECK(polyarch_register_set_string(laptop, "cal", "events/e1/title", "Standup"));
    CHECK(polyarch_set_add(laptop, "cal", "events/e1/guests", "ada"));
    CHECK(polyarch_counter_increment(laptop, "cal", "events/e1/rsvp", 2));
    CHECK(polyarch_register_set_string(phone, "cal", "events/e1/title", "Daily"));
    CHECK(polyarch_set_add(phone, "cal", "events/e1/guests", "grace"));
    CHECK(polyarch_counter_increment(phone, "cal", "events/e1/rsvp", 3));
    CHECK(polyarch_register_set_int(phone, "cal", "events/e1/room", 101));

    sync_pair(laptop, phone);

    char *ja = json(laptop, "cal"), *jb = json(phone, "cal");
    EXPECT(strcmp(ja, jb) == 0);
    EXPECT(strstr(ja, "\"ada\"") && strstr(ja, "\"grace\"") && strstr(ja, "5"));
    printf("converged: %s\n", ja);
    polyarch_string_free(ja);
    polyarch_string_free(jb);

    char *conflicts = NULL;
    CHECK(polyarch_register_conflicts_json(phone, "cal", "events/e1/title", &conflicts));
    EXPECT(strstr(conflicts, "Standup") && strstr(conflicts, "Daily"));
    printf("conflict kept: %s\n", conflicts);
    polyarch_string_free(conflicts);

    edit_concurrently_then_agree(laptop, phone);

    /* A bad frame is refused with a code, and the replica still works. */
    PolyarchSession *s = polyarch_session_new(NULL);
    PolyarchFrames *out = NULL;
    const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};
    EXPECT(polyarch_session_receive(s, laptop, garbage, sizeof garbage, &out) ==
           POLYARCH_STATUS_FAILED);
    EXPECT(out == NULL);
    EXPECT(strncmp(polyarch_last_error_code(), "SYNC_", 5) == 0);
    printf("bad frame: %s: %s\n", polyarch_last_error_code(), polyarch_last_error_message());
    polyarch_session_free(s);
    EXPECT(polyarch_doc_to_json(laptop, NULL, &ja) == POLYARCH_STATUS_INVALID_ARGUMENT);
    EXPECT(polyarch_doc_to_json(laptop, "nope", &ja) == POLYARCH_STATUS_FAILED);
    EXPECT(strcmp(polyarch_last_error_code(), "NO_SUCH_DOC") == 0);

    /* An image of the laptop opens as a new file with the same document. */
    uint8_t *image = NULL;
    size_t image_len = 0;
    CHECK(polyarch_replica_export_image(laptop, &image, &image_len));
    PolyarchReplica *restored = NULL;
    CHECK(polyarch_replica_from_image(image, image_len, path_c, &restored));
    EXPECT(polyarch_replica_from_image(image, 10, NULL, &restored) == POLYARCH_STATUS_FAILED);
    EXPECT(strcmp(polyarch_last_error_code(), "STORE_NOT_AN_IMAGE") == 0);
    polyarch_bytes_free(image, image_len);
    ja = json(laptop, "cal");
    char *jc = json(restored, "cal");
    EXPECT(strcmp(ja, jc) == 0);
    polyarch_string_free(ja);
    polyarch_string_free(jc);

    polyarch_replica_free(restored);
    polyarch_replica_free(laptop);
    polyarch_replica_free(phone);
    printf("ok\n");
    return 0;
}
