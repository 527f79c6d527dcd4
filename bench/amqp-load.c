/*
 * amqp-load: the RabbitMQ side of switchboard-bench's same-run comparison.
 *
 * The durable workload Switchboard is measured on, spoken to RabbitMQ: publishers with
 * publisher confirms (a window of outstanding messages each), persistent 512-byte
 * messages into durable classic queues (or, with --quorum 1, quorum queues: RabbitMQ's
 * replicated kind, the one its documentation recommends for data safety), consumers with
 * manual acknowledgements and a prefetch (the credit Switchboard's workers announce). It prints one line of
 * key=value figures that switchboard-bench reads:
 *   confirmed=N delivered=N seconds=S confirm_p50_ms=X confirm_p99_ms=Y lost=N
 *
 * Built by `make bench` against Debian's librabbitmq-dev (rabbitmq-c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>

static const char *host = "127.0.0.1";
static int port = 5672;
static int queues = 1, publishers = 16, consumers = 8, prefetch = 16, window = 100, size = 512;
static double seconds = 10, warmup = 1;
static int quorum = 0;
static atomic_int stopping;
static atomic_long confirmed, delivered;
/* Latencies of messages sent before this (the warm-up) are not counted. */
static _Atomic uint64_t measure_from = UINT64_MAX;

/* Confirm latencies, in microseconds, from every publisher. */
static pthread_mutex_t samples_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *samples;
static size_t sample_count, sample_capacity;

static uint64_t now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void die(const char *what, amqp_rpc_reply_t reply) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
    fprintf(stderr, "amqp-load: %s failed (reply type %d, library error %s)\n", what, reply.reply_type,
            amqp_error_string2(reply.library_error));
    exit(2);
}

static amqp_connection_state_t connect_channel(void) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (!socket || amqp_socket_open(socket, host, port) != AMQP_STATUS_OK) {
        fprintf(stderr, "amqp-load: cannot reach RabbitMQ at %s:%d\n", host, port);
        exit(2);
    }
    die("login", amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"));
    amqp_channel_open(conn, 1);
    die("channel.open", amqp_get_rpc_reply(conn));
    return conn;
}

static amqp_bytes_t queue_name(int index) {
    static char names[64][32];
    snprintf(names[index], sizeof names[index], quorum ? "switchboard-bench-quorum-%d" : "switchboard-bench-%d", index);
    return amqp_cstring_bytes(names[index]);
}

static void record(uint32_t *local, size_t count) {
    pthread_mutex_lock(&samples_lock);
    if (sample_count + count > sample_capacity) {
        sample_capacity = (sample_count + count) * 2;
        samples = realloc(samples, sample_capacity * sizeof *samples);
    }
    memcpy(samples + sample_count, local, count * sizeof *local);
    sample_count += count;
    pthread_mutex_unlock(&samples_lock);
}

static void *publisher(void *arg) {
    int id = (int)(intptr_t)arg;
    amqp_connection_state_t conn = connect_channel();
    amqp_confirm_select(conn, 1);
    die("confirm.select", amqp_get_rpc_reply(conn));
    char *body = malloc(size);
    memset(body, 'x', size);
    amqp_basic_properties_t props = {._flags = AMQP_BASIC_DELIVERY_MODE_FLAG, .delivery_mode = 2};
    uint64_t *sent_at = calloc(window, sizeof *sent_at); /* by delivery tag modulo window */
    uint64_t next_tag = 1, acked_through = 0;
    size_t local_capacity = 1 << 16, local_count = 0;
    uint32_t *local = malloc(local_capacity * sizeof *local);
    while (!atomic_load(&stopping)) {
        while (next_tag - acked_through - 1 < (uint64_t)window && !atomic_load(&stopping)) {
            sent_at[next_tag % window] = now_us();
            int status = amqp_basic_publish(conn, 1, amqp_empty_bytes, queue_name((id + (int)next_tag) % queues), 0, 0, &props,
                                            (amqp_bytes_t){.len = (size_t)size, .bytes = body});
            if (status != AMQP_STATUS_OK) { fprintf(stderr, "amqp-load: publish failed: %s\n", amqp_error_string2(status)); exit(2); }
            next_tag++;
        }
        /* Wait for confirms: each basic.ack may confirm several (multiple). */
        amqp_frame_t frame;
        struct timeval timeout = {0, 100000};
        int status = amqp_simple_wait_frame_noblock(conn, &frame, &timeout);
        if (status == AMQP_STATUS_TIMEOUT) continue;
        if (status != AMQP_STATUS_OK) { fprintf(stderr, "amqp-load: waiting for confirms: %s\n", amqp_error_string2(status)); exit(2); }
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) { fprintf(stderr, "amqp-load: RabbitMQ refused a message\n"); exit(2); }
        if (frame.payload.method.id != AMQP_BASIC_ACK_METHOD) continue;
        amqp_basic_ack_t *ack = frame.payload.method.decoded;
        uint64_t through = ack->multiple ? ack->delivery_tag : ack->delivery_tag;
        uint64_t from = ack->multiple ? acked_through + 1 : ack->delivery_tag;
        uint64_t at = now_us();
        for (uint64_t tag = from; tag <= through; tag++) {
            if (local_count == local_capacity) { record(local, local_count); local_count = 0; }
            if (sent_at[tag % window] >= atomic_load(&measure_from)) local[local_count++] = (uint32_t)(at - sent_at[tag % window]);
            atomic_fetch_add(&confirmed, 1);
        }
        if (through > acked_through) acked_through = through;
        amqp_maybe_release_buffers(conn);
    }
    record(local, local_count);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return NULL;
}

static void *consumer(void *arg) {
    int id = (int)(intptr_t)arg;
    amqp_connection_state_t conn = connect_channel();
    amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
    die("basic.qos", amqp_get_rpc_reply(conn));
    amqp_basic_consume(conn, 1, queue_name(id % queues), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    die("basic.consume", amqp_get_rpc_reply(conn));
    while (!atomic_load(&stopping)) {
        amqp_envelope_t envelope;
        struct timeval timeout = {0, 100000};
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t reply = amqp_consume_message(conn, &envelope, &timeout, 0);
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) continue;
        die("consume", reply);
        amqp_basic_ack(conn, 1, envelope.delivery_tag, 0);
        atomic_fetch_add(&delivered, 1);
        amqp_destroy_envelope(&envelope);
    }
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return NULL;
}

static int compare(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *key = argv[i], *value = argv[i + 1];
        if (!strcmp(key, "--host")) host = value;
        else if (!strcmp(key, "--port")) port = atoi(value);
        else if (!strcmp(key, "--queues")) queues = atoi(value);
        else if (!strcmp(key, "--publishers")) publishers = atoi(value);
        else if (!strcmp(key, "--consumers")) consumers = atoi(value);
        else if (!strcmp(key, "--prefetch")) prefetch = atoi(value);
        else if (!strcmp(key, "--window")) window = atoi(value);
        else if (!strcmp(key, "--size")) size = atoi(value);
        else if (!strcmp(key, "--seconds")) seconds = atof(value);
        else if (!strcmp(key, "--warmup")) warmup = atof(value);
        else if (!strcmp(key, "--quorum")) quorum = atoi(value);
        else { fprintf(stderr, "amqp-load: unknown option %s\n", key); return 2; }
    }
    if (queues < 1 || queues > 64 || publishers < 1 || consumers < 1 || window < 1 || size < 1) {
        fprintf(stderr, "amqp-load: --queues 1..64, and every count at least 1\n");
        return 2;
    }
    /* Fresh durable queues: declared, emptied of an earlier run's messages. */
    amqp_connection_state_t setup = connect_channel();
    amqp_table_entry_t type = {.key = amqp_cstring_bytes("x-queue-type"),
                               .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = amqp_cstring_bytes("quorum")}}};
    amqp_table_t arguments = quorum ? (amqp_table_t){.num_entries = 1, .entries = &type} : amqp_empty_table;
    for (int q = 0; q < queues; q++) {
        amqp_queue_declare(setup, 1, queue_name(q), 0, 1, 0, 0, arguments);
        die("queue.declare", amqp_get_rpc_reply(setup));
        amqp_queue_purge(setup, 1, queue_name(q));
        die("queue.purge", amqp_get_rpc_reply(setup));
    }
    pthread_t threads[512];
    int count = 0;
    for (int c = 0; c < consumers && count < 512; c++) pthread_create(&threads[count++], NULL, consumer, (void *)(intptr_t)c);
    for (int p = 0; p < publishers && count < 512; p++) pthread_create(&threads[count++], NULL, publisher, (void *)(intptr_t)p);
    /* Counted after the warm-up, as switchboard-bench counts its own modes. */
    usleep((useconds_t)(warmup * 1e6));
    atomic_store(&measure_from, now_us());
    long confirmed_at_start = atomic_load(&confirmed), delivered_at_start = atomic_load(&delivered);
    uint64_t start = now_us();
    usleep((useconds_t)(seconds * 1e6));
    long confirmed_at_end = atomic_load(&confirmed) - confirmed_at_start, delivered_at_end = atomic_load(&delivered) - delivered_at_start;
    double elapsed = (double)(now_us() - start) / 1e6;
    atomic_store(&stopping, 1);
    for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
    /* What was confirmed and is neither delivered nor still queued would be lost. */
    long queued = 0;
    for (int q = 0; q < queues; q++) {
        amqp_queue_declare_ok_t *ok = amqp_queue_declare(setup, 1, queue_name(q), 1, 1, 0, 0, arguments);
        die("queue.declare passive", amqp_get_rpc_reply(setup));
        queued += ok->message_count;
        amqp_queue_purge(setup, 1, queue_name(q));
    }
    long lost = atomic_load(&confirmed) - atomic_load(&delivered) - queued;
    qsort(samples, sample_count, sizeof *samples, compare);
    double p50 = sample_count ? samples[sample_count / 2] / 1000.0 : 0;
    double p99 = sample_count ? samples[(size_t)(sample_count * 0.99)] / 1000.0 : 0;
    printf("confirmed=%ld delivered=%ld seconds=%.3f confirm_p50_ms=%.3f confirm_p99_ms=%.3f lost=%ld\n", confirmed_at_end,
           delivered_at_end, elapsed, p50, p99, lost < 0 ? 0 : lost);
    amqp_connection_close(setup, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(setup);
    return 0;
}
