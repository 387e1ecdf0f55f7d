// SPDX-License-Identifier: Apache-2.0
// The peers workload on Redis Streams (hiredis): producers pipeline a batch of
// XADDs and read all replies (one round trip); consumers XREADGROUP COUNT
// batch and XACK all of its ids in one command. With appendfsync always,
// Redis fsyncs the AOF before it sends the replies of an event-loop pass, so
// a reply means the write is on disk.
#include "peer_common.h"

#include <hiredis/hiredis.h>

#define STREAM "peers"
#define GROUP "workers"

static redisContext* connect_redis(void) {
  struct timeval timeout = {10, 0};
  redisContext* c = redisConnectWithTimeout(peer_cfg.host, peer_cfg.port, timeout);
  if (!c)
    peer_fail("cannot allocate a Redis context");
  if (c->err)
    peer_fail("cannot connect to %s:%d: %s", peer_cfg.host, peer_cfg.port, c->errstr);
  return c;
}

static redisReply* command(redisContext* c, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply* r = redisvCommand(c, fmt, ap);
  va_end(ap);
  if (!r)
    peer_fail("Redis connection failed: %s", c->errstr);
  if (r->type == REDIS_REPLY_ERROR)
    peer_fail("Redis: %s (command %s)", r->str, fmt);
  return r;
}

static void produce(int producer, long first, long count) {
  redisContext* c = connect_redis();
  char* buf = peer_alloc((size_t)peer_cfg.size + 1);
  peer_fill(buf);
  for (long done = 0; done < count;) {
    long k = count - done < peer_cfg.batch ? count - done : peer_cfg.batch;
    for (long i = 0; i < k; i++) {
      peer_stamp(buf, first + done + i);
      if (redisAppendCommand(c, "XADD " STREAM " * m %b", buf, (size_t)peer_cfg.size) != REDIS_OK)
        peer_fail("producer %d: cannot queue XADD: %s", producer, c->errstr);
    }
    for (long i = 0; i < k; i++) {
      redisReply* r = NULL;
      if (redisGetReply(c, (void**)&r) != REDIS_OK || !r)
        peer_fail("producer %d: connection failed: %s", producer, c->errstr);
      if (r->type != REDIS_REPLY_STRING)
        peer_fail("producer %d: XADD answered %s", producer,
                  r->type == REDIS_REPLY_ERROR ? r->str : "something other than an id");
      freeReplyObject(r);
    }
    done += k;
  }
  free(buf);
  redisFree(c);
}

static void consume(struct peer_consumer* pc) {
  redisContext* c = connect_redis();
  char name[32];
  snprintf(name, sizeof name, "c%d", pc->id);
  size_t nargs = 3 + (size_t)peer_cfg.batch;
  const char** argv = peer_alloc(nargs * sizeof *argv);
  size_t* argl = peer_alloc(nargs * sizeof *argl);
  argv[0] = "XACK";
  argv[1] = STREAM;
  argv[2] = GROUP;
  for (int i = 0; i < 3; i++)
    argl[i] = strlen(argv[i]);
  while (!peer_finished()) {
    // BLOCK bounds the wait so that the thread sees the end of the run.
    redisReply* r =
      command(c, "XREADGROUP GROUP " GROUP " %s COUNT %d BLOCK 100 STREAMS " STREAM " >", name,
              peer_cfg.batch);
    if (r->type == REDIS_REPLY_NIL) {
      freeReplyObject(r);
      continue;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->elements != 2)
      peer_fail("consumer %d: unexpected XREADGROUP reply", pc->id);
    redisReply* entries = r->element[0]->element[1];
    size_t k = entries->elements;
    for (size_t i = 0; i < k; i++) {
      redisReply* e = entries->element[i]; // [id, [field, value]]
      if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->elements != 2)
        peer_fail("consumer %d: unexpected stream entry", pc->id);
      redisReply* value = e->element[1]->element[1];
      peer_take(pc, value->str, value->len);
      argv[3 + i] = e->element[0]->str;
      argl[3 + i] = e->element[0]->len;
    }
    if (k > 0) {
      redisReply* ack = redisCommandArgv(c, (int)(3 + k), argv, argl);
      if (!ack)
        peer_fail("consumer %d: connection failed: %s", pc->id, c->errstr);
      if (ack->type != REDIS_REPLY_INTEGER || ack->integer != (long long)k)
        peer_fail("consumer %d: XACK acknowledged %lld of %zu", pc->id,
                  ack->type == REDIS_REPLY_INTEGER ? ack->integer : -1LL, k);
      freeReplyObject(ack);
      peer_acked(pc);
    }
    freeReplyObject(r);
  }
  free(argv);
  free(argl);
  redisFree(c);
}

int main(int argc, char** argv) {
  peer_parse_args(argc, argv, "redis", 6379);
  redisContext* c = connect_redis();
  freeReplyObject(command(c, "DEL " STREAM));
  freeReplyObject(command(c, "XGROUP CREATE " STREAM " " GROUP " 0 MKSTREAM"));
  // The durability is the server's, so ask it rather than trust the caller.
  redisReply* aof = command(c, "CONFIG GET appendonly");
  redisReply* fsync = command(c, "CONFIG GET appendfsync");
  char durability[128];
  if (aof->elements == 2 && !strcmp(aof->element[1]->str, "yes") && fsync->elements == 2)
    snprintf(durability, sizeof durability, "AOF, appendfsync %s", fsync->element[1]->str);
  else
    snprintf(durability, sizeof durability, "no AOF (memory and snapshots only)");
  freeReplyObject(aof);
  freeReplyObject(fsync);
  redisFree(c);
  return peer_run(produce, consume, durability);
}
