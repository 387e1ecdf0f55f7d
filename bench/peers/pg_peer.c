// SPDX-License-Identifier: Apache-2.0
// The peers workload on PostgreSQL (libpq), as a table used as a queue:
// producers insert a batch with one multi-row INSERT (its own transaction,
// one WAL flush at commit); consumers claim and delete up to a batch with
// FOR UPDATE SKIP LOCKED, so that concurrent consumers never wait for each
// other's rows, and the DELETE's commit is the ack.
//
// Consumers poll: an empty queue costs a 1 ms sleep. LISTEN/NOTIFY would wake
// them sooner but adds a second channel per message, which none of the other
// systems pays.
#include "peer_common.h"

#include <libpq-fe.h>

static PGconn* connect_pg(void) {
  char port[16];
  snprintf(port, sizeof port, "%d", peer_cfg.port);
  const char* keys[] = {"host", "port", "user", "dbname", "application_name", "options", NULL};
  const char* values[] = {peer_cfg.host,
                          port,
                          peer_cfg.user ? peer_cfg.user : "postgres",
                          peer_cfg.dbname ? peer_cfg.dbname : "postgres",
                          "cairn_peer_pg",
                          "-c client_min_messages=warning", // no NOTICE on DROP IF EXISTS
                          NULL};
  PGconn* c = PQconnectdbParams(keys, values, 0);
  if (!c || PQstatus(c) != CONNECTION_OK)
    peer_fail("cannot connect to %s:%d: %s", peer_cfg.host, peer_cfg.port,
              c ? PQerrorMessage(c) : "out of memory");
  return c;
}

static void check(PGconn* c, PGresult* r, ExecStatusType want, const char* what) {
  if (!r || PQresultStatus(r) != want)
    peer_fail("%s failed: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
}

static void exec(PGconn* c, const char* sql) {
  PGresult* r = PQexec(c, sql);
  check(c, r, PGRES_COMMAND_OK, sql);
  PQclear(r);
}

// Prepares "INSERT ... VALUES ($1), ..., ($k)" once per batch size (at most
// two: the batch and the producer's last, shorter one).
static const char* insert_statement(PGconn* c, long k, long* prepared) {
  static _Thread_local char name[32];
  snprintf(name, sizeof name, "insert_%ld", k);
  if (prepared[0] == k || prepared[1] == k)
    return name;
  size_t cap = 64 + (size_t)k * 16;
  char* sql = peer_alloc(cap);
  size_t len = (size_t)snprintf(sql, cap, "INSERT INTO q (body) VALUES ");
  for (long i = 1; i <= k; i++)
    len += (size_t)snprintf(sql + len, cap - len, "%s($%ld)", i > 1 ? "," : "", i);
  PGresult* r = PQprepare(c, name, sql, (int)k, NULL);
  check(c, r, PGRES_COMMAND_OK, "PREPARE insert");
  PQclear(r);
  free(sql);
  prepared[prepared[0] ? 1 : 0] = k;
  return name;
}

static void produce(int producer, long first, long count) {
  PGconn* c = connect_pg();
  long prepared[2] = {0, 0};
  size_t stride = (size_t)peer_cfg.size + 1;
  char* bufs = peer_alloc(stride * (size_t)peer_cfg.batch);
  const char** params = peer_alloc((size_t)peer_cfg.batch * sizeof *params);
  for (int i = 0; i < peer_cfg.batch; i++) {
    params[i] = bufs + stride * (size_t)i;
    peer_fill(bufs + stride * (size_t)i);
  }
  for (long done = 0; done < count;) {
    long k = count - done < peer_cfg.batch ? count - done : peer_cfg.batch;
    const char* stmt = insert_statement(c, k, prepared);
    for (long i = 0; i < k; i++)
      peer_stamp(bufs + stride * (size_t)i, first + done + i);
    PGresult* r = PQexecPrepared(c, stmt, (int)k, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
      peer_fail("producer %d: INSERT failed: %s", producer,
                r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    done += k;
  }
  free(params);
  free(bufs);
  PQfinish(c);
}

static void consume(struct peer_consumer* pc) {
  PGconn* c = connect_pg();
  PGresult* r = PQprepare(c, "take",
                          "DELETE FROM q WHERE id IN (SELECT id FROM q ORDER BY id"
                          " FOR UPDATE SKIP LOCKED LIMIT $1) RETURNING body",
                          1, NULL);
  check(c, r, PGRES_COMMAND_OK, "PREPARE take");
  PQclear(r);
  char limit[16];
  snprintf(limit, sizeof limit, "%d", peer_cfg.batch);
  const char* params[] = {limit};
  while (!peer_finished()) {
    // Autocommit: PQexecPrepared returns after the commit, so the rows it
    // returns are durably gone from the queue.
    r = PQexecPrepared(c, "take", 1, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
      peer_fail("consumer %d: DELETE failed: %s", pc->id,
                r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    int k = PQntuples(r);
    for (int i = 0; i < k; i++)
      peer_take(pc, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
    PQclear(r);
    if (k > 0)
      peer_acked(pc);
    else
      peer_sleep_ms(1);
  }
  PQfinish(c);
}

static void show(PGconn* c, const char* setting, char* out, size_t cap) {
  char sql[64];
  snprintf(sql, sizeof sql, "SHOW %s", setting);
  PGresult* r = PQexec(c, sql);
  check(c, r, PGRES_TUPLES_OK, sql);
  snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
}

int main(int argc, char** argv) {
  peer_parse_args(argc, argv, "postgresql", 5432);
  PGconn* c = connect_pg();
  exec(c, "DROP TABLE IF EXISTS q");
  exec(c, "CREATE TABLE q (id bigserial PRIMARY KEY, body text NOT NULL)");
  // The durability is the server's, so ask it rather than trust the caller.
  char fsync[16], sync_commit[16], durability[128];
  show(c, "fsync", fsync, sizeof fsync);
  show(c, "synchronous_commit", sync_commit, sizeof sync_commit);
  snprintf(durability, sizeof durability, "fsync %s, synchronous_commit %s (WAL flushed at commit)",
           fsync, sync_commit);
  PQfinish(c);
  return peer_run(produce, consume, durability);
}
