// SPDX-License-Identifier: Apache-2.0
// What the peer drivers share: the command line, the message layout, the
// producer and consumer threads, the accounting of every message, and the
// one-line JSON result. Each driver is one translation unit that includes this
// header once, so the state below is file-static.
//
// Workload: producers send --messages messages of --size bytes in batches of
// --batch, one durable round trip per batch; consumers take up to --batch at
// a time and ack them durably. A message's latency is its ack time minus its
// send time; throughput is messages over first send to last ack.
//
// Message layout (ASCII, so that text protocols such as libpq's can carry it
// unescaped): 16 digits of send time (realtime microseconds), ':', 12 digits
// of the message's index in [0, messages), ':', then 'x' up to --size.
#ifndef CAIRN_PEER_COMMON_H
#define CAIRN_PEER_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEER_HEADER_BYTES 30 // "%016" ":" "%012" ":"
#define PEER_MIN_SIZE 32

struct peer_args {
  const char* host;
  int port;
  long messages;
  int batch;
  int size;
  int producers;
  int consumers;
  const char* label;
  const char* user;     // pg, rabbitmq
  const char* password; // rabbitmq
  const char* dbname;   // pg
  int stall_s;          // no ack for this long: the run fails
};

// One per consumer thread: the batch taken but not yet acked, and the
// latencies of the acked ones. Merged once at the end, so no lock on the path.
struct peer_consumer {
  int id;
  int64_t* pend_sent;
  int64_t* pend_index;
  int npend;
  int64_t* lat_us;
  size_t nlat, cap;
};

// What a driver provides. produce sends the messages [first, first + count)
// with peer_stamp; consume loops until peer_finished(), calling peer_take for
// each message it received and peer_acked once the ack is durable.
typedef void (*peer_produce_fn)(int producer, long first, long count);
typedef void (*peer_consume_fn)(struct peer_consumer* c);

static struct peer_args peer_cfg;
static atomic_uchar* peer_seen;         // [messages], 1 once acked
static atomic_long peer_nacked;         // distinct messages acked
static atomic_long peer_duplicates;     // acked again (a redelivery)
static atomic_llong peer_first_send_us; // 0 until the first stamp
static atomic_llong peer_last_ack_us;

static int64_t peer_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t peer_mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void peer_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Any error ends the whole run at once, from any thread: a benchmark that
// carries on after losing a connection would report a number for a different
// workload.
static void peer_fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", peer_cfg.label ? peer_cfg.label : "peer");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr);
  _Exit(1);
}

static void* peer_alloc(size_t n) {
  void* p = calloc(1, n ? n : 1);
  if (!p)
    peer_fail("out of memory (%zu bytes)", n);
  return p;
}

static void peer_usage(const char* prog) {
  fprintf(stderr,
          "usage: %s [--host H] [--port P] [--messages N] [--batch B] [--size S]\n"
          "       [--producers P] [--consumers C] [--label NAME] [--user U] [--password W]\n"
          "       [--dbname D] [--stall-timeout SECONDS]\n",
          prog);
}

static long peer_parse_long(const char* flag, const char* v, long min, long max) {
  char* end = NULL;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < min || n > max)
    peer_fail("%s must be an integer in [%ld, %ld], got '%s'", flag, min, max, v);
  return n;
}

static void peer_parse_args(int argc, char** argv, const char* label, int port) {
  struct peer_args* a = &peer_cfg;
  *a = (struct peer_args){.host = "127.0.0.1",
                          .port = port,
                          .messages = 200000,
                          .batch = 64,
                          .size = 256,
                          .producers = 4,
                          .consumers = 4,
                          .label = label,
                          .stall_s = 60};
  for (int i = 1; i < argc; i++) {
    const char* f = argv[i];
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
      peer_usage(argv[0]);
      exit(0);
    }
    if (i + 1 >= argc) {
      peer_usage(argv[0]);
      peer_fail("%s needs a value", f);
    }
    const char* v = argv[++i];
    if (!strcmp(f, "--host"))
      a->host = v;
    else if (!strcmp(f, "--port"))
      a->port = (int)peer_parse_long(f, v, 1, 65535);
    else if (!strcmp(f, "--messages"))
      a->messages = peer_parse_long(f, v, 1, 1000000000L);
    else if (!strcmp(f, "--batch"))
      a->batch = (int)peer_parse_long(f, v, 1, 65535);
    else if (!strcmp(f, "--size"))
      a->size = (int)peer_parse_long(f, v, PEER_MIN_SIZE, 1 << 20);
    else if (!strcmp(f, "--producers"))
      a->producers = (int)peer_parse_long(f, v, 1, 1024);
    else if (!strcmp(f, "--consumers"))
      a->consumers = (int)peer_parse_long(f, v, 1, 1024);
    else if (!strcmp(f, "--label"))
      a->label = v;
    else if (!strcmp(f, "--user"))
      a->user = v;
    else if (!strcmp(f, "--password"))
      a->password = v;
    else if (!strcmp(f, "--dbname"))
      a->dbname = v;
    else if (!strcmp(f, "--stall-timeout"))
      a->stall_s = (int)peer_parse_long(f, v, 1, 86400);
    else {
      peer_usage(argv[0]);
      peer_fail("unknown flag %s", f);
    }
  }
}

// Fills a message buffer of peer_cfg.size bytes (plus a NUL, for text APIs).
static void peer_fill(char* buf) {
  memset(buf, 'x', (size_t)peer_cfg.size);
  buf[peer_cfg.size] = '\0';
}

// Writes the send time and index into buf; call it just before sending.
static void peer_stamp(char* buf, long index) {
  int64_t now = peer_now_us();
  long long expected = 0;
  atomic_compare_exchange_strong(&peer_first_send_us, &expected, (long long)now);
  char head[PEER_HEADER_BYTES + 1];
  snprintf(head, sizeof head, "%016" PRId64 ":%012ld:", now, index);
  memcpy(buf, head, PEER_HEADER_BYTES);
}

static bool peer_finished(void) {
  return atomic_load(&peer_nacked) >= peer_cfg.messages;
}

// Records one received message of the batch about to be acked.
static void peer_take(struct peer_consumer* c, const void* data, size_t len) {
  const char* p = data;
  if (len != (size_t)peer_cfg.size || p[16] != ':' || p[29] != ':')
    peer_fail("consumer %d received a malformed message (%zu bytes)", c->id, len);
  if (c->npend >= peer_cfg.batch)
    peer_fail("consumer %d received more than a batch (%d)", c->id, peer_cfg.batch);
  int64_t sent = 0, index = 0;
  for (int i = 0; i < 16; i++)
    sent = sent * 10 + (p[i] - '0');
  for (int i = 17; i < 29; i++)
    index = index * 10 + (p[i] - '0');
  if (index < 0 || index >= peer_cfg.messages)
    peer_fail("consumer %d received message index %" PRId64 " out of range", c->id, index);
  c->pend_sent[c->npend] = sent;
  c->pend_index[c->npend] = index;
  c->npend++;
}

// The batch taken since the last call is durably acked: count it.
static void peer_acked(struct peer_consumer* c) {
  int64_t now = peer_now_us();
  long fresh = 0;
  for (int i = 0; i < c->npend; i++) {
    if (atomic_exchange(&peer_seen[c->pend_index[i]], 1)) {
      atomic_fetch_add(&peer_duplicates, 1);
      continue;
    }
    if (c->nlat == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 4096;
      c->lat_us = realloc(c->lat_us, c->cap * sizeof *c->lat_us);
      if (!c->lat_us)
        peer_fail("out of memory for latencies");
    }
    c->lat_us[c->nlat++] = now - c->pend_sent[i];
    fresh++;
  }
  c->npend = 0;
  long long last = atomic_load(&peer_last_ack_us);
  while (last < now && !atomic_compare_exchange_weak(&peer_last_ack_us, &last, now)) {
  }
  atomic_fetch_add(&peer_nacked, fresh);
}

struct peer_producer_arg {
  peer_produce_fn fn;
  int id;
  long first, count;
};

struct peer_consumer_arg {
  peer_consume_fn fn;
  struct peer_consumer* c;
};

static void* peer_producer_main(void* p) {
  struct peer_producer_arg* a = p;
  a->fn(a->id, a->first, a->count);
  return NULL;
}

static void* peer_consumer_main(void* p) {
  struct peer_consumer_arg* a = p;
  a->fn(a->c);
  return NULL;
}

static int peer_cmp_i64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

// Nearest rank, in milliseconds.
static double peer_percentile_ms(const int64_t* sorted, size_t n, double p) {
  if (n == 0)
    return 0;
  size_t rank = (size_t)(p * (double)n + 0.999999);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return (double)sorted[rank - 1] / 1000.0;
}

static void peer_json_string(const char* s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      putchar('\\');
    if ((unsigned char)*s >= 0x20)
      putchar(*s);
  }
  putchar('"');
}

static void peer_print_result(double msgs_per_s, double p50, double p99, const char* durability) {
  const struct peer_args* a = &peer_cfg;
  printf("{\"system\": ");
  peer_json_string(a->label);
  printf(", \"batch\": %d, \"messages\": %ld, \"size\": %d, \"producers\": %d, \"consumers\": %d"
         ", \"msgs_per_s\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"durability\": ",
         a->batch, a->messages, a->size, a->producers, a->consumers, msgs_per_s, p50, p99);
  peer_json_string(durability);
  printf("}\n");
  fflush(stdout);
}

// Runs the workload once the driver has created its empty queue; returns the
// exit code. Consumers start first so that no message waits for a consumer
// to connect.
static int peer_run(peer_produce_fn produce, peer_consume_fn consume, const char* durability) {
  const struct peer_args* a = &peer_cfg;
  peer_seen = peer_alloc((size_t)a->messages * sizeof *peer_seen);
  pthread_t* threads = peer_alloc((size_t)(a->producers + a->consumers) * sizeof *threads);
  struct peer_consumer* cons = peer_alloc((size_t)a->consumers * sizeof *cons);
  struct peer_consumer_arg* cargs = peer_alloc((size_t)a->consumers * sizeof *cargs);
  struct peer_producer_arg* pargs = peer_alloc((size_t)a->producers * sizeof *pargs);

  for (int i = 0; i < a->consumers; i++) {
    cons[i].id = i;
    cons[i].pend_sent = peer_alloc((size_t)a->batch * sizeof(int64_t));
    cons[i].pend_index = peer_alloc((size_t)a->batch * sizeof(int64_t));
    cargs[i] = (struct peer_consumer_arg){consume, &cons[i]};
    if (pthread_create(&threads[i], NULL, peer_consumer_main, &cargs[i]))
      peer_fail("cannot start consumer thread %d", i);
  }
  long share = a->messages / a->producers, extra = a->messages % a->producers, next = 0;
  for (int i = 0; i < a->producers; i++) {
    long count = share + (i < extra ? 1 : 0);
    pargs[i] = (struct peer_producer_arg){produce, i, next, count};
    next += count;
    if (pthread_create(&threads[a->consumers + i], NULL, peer_producer_main, &pargs[i]))
      peer_fail("cannot start producer thread %d", i);
  }

  // Watchdog: a driver that lost messages would otherwise wait forever.
  long last_count = -1;
  int64_t last_progress = peer_mono_us();
  while (!peer_finished()) {
    peer_sleep_ms(50);
    long n = atomic_load(&peer_nacked);
    if (n != last_count) {
      last_count = n;
      last_progress = peer_mono_us();
    } else if (peer_mono_us() - last_progress > (int64_t)a->stall_s * 1000000) {
      peer_fail("no ack for %d s: %ld of %ld messages acked, the rest are missing", a->stall_s, n,
                a->messages);
    }
  }
  for (int i = 0; i < a->producers + a->consumers; i++)
    pthread_join(threads[i], NULL);

  long acked = atomic_load(&peer_nacked);
  for (long i = 0; i < a->messages; i++)
    if (!atomic_load(&peer_seen[i]))
      peer_fail("message %ld was never acked", i);
  if (acked != a->messages)
    peer_fail("%ld distinct messages acked, expected %ld", acked, a->messages);
  long dups = atomic_load(&peer_duplicates);
  if (dups)
    fprintf(stderr, "%s: %ld messages were delivered and acked twice\n", a->label, dups);

  size_t n = 0;
  for (int i = 0; i < a->consumers; i++)
    n += cons[i].nlat;
  int64_t* all = peer_alloc(n * sizeof *all);
  size_t k = 0;
  for (int i = 0; i < a->consumers; i++) {
    memcpy(all + k, cons[i].lat_us, cons[i].nlat * sizeof *all);
    k += cons[i].nlat;
  }
  qsort(all, n, sizeof *all, peer_cmp_i64);
  double secs = (double)(atomic_load(&peer_last_ack_us) - atomic_load(&peer_first_send_us)) / 1e6;
  peer_print_result(secs > 0 ? (double)a->messages / secs : 0, peer_percentile_ms(all, n, 0.50),
                    peer_percentile_ms(all, n, 0.99), durability);

  free(all);
  for (int i = 0; i < a->consumers; i++) {
    free(cons[i].pend_sent);
    free(cons[i].pend_index);
    free(cons[i].lat_us);
  }
  free(pargs);
  free(cargs);
  free(cons);
  free(threads);
  free((void*)peer_seen);
  return 0;
}

#endif
