// SPDX-License-Identifier: Apache-2.0
// The peers workload on RabbitMQ (librabbitmq, AMQP 0-9-1) with a quorum
// queue: producers publish a batch on a confirm-mode channel and wait until
// the broker has confirmed all of it (a quorum queue confirms once the Raft
// log entry is fsynced); consumers receive with a prefetch of two batches,
// take what has arrived (up to a batch) and ack it with one multiple=true ack.
//
// AMQP 0-9-1 has no reply to basic.ack, so a consumer's "ack time" is when
// its ack left the client; the broker settles it in the Raft log afterwards.
#include "peer_common.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#define QUEUE "peers"

static const char* reply_text(amqp_rpc_reply_t r) {
  static _Thread_local char text[256];
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD || r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        // Both close methods start with reply_code and reply_text.
        amqp_channel_close_t* m = r.reply.decoded;
        snprintf(text, sizeof text, "server closed: %u %.*s", m->reply_code, (int)m->reply_text.len,
                 (const char*)m->reply_text.bytes);
        return text;
      }
      snprintf(text, sizeof text, "server exception, method 0x%08x", r.reply.id);
      return text;
  }
  return "unknown reply";
}

static void check_rpc(amqp_connection_state_t c, const char* what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
  if (r.reply_type != AMQP_RESPONSE_NORMAL)
    peer_fail("%s failed: %s", what, reply_text(r));
}

static amqp_connection_state_t connect_rabbitmq(void) {
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t* s = amqp_tcp_socket_new(c);
  if (!s)
    peer_fail("cannot create a socket");
  int rc = amqp_socket_open(s, peer_cfg.host, peer_cfg.port);
  if (rc != AMQP_STATUS_OK)
    peer_fail("cannot connect to %s:%d: %s", peer_cfg.host, peer_cfg.port, amqp_error_string2(rc));
  amqp_rpc_reply_t r = amqp_login(c, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                                  peer_cfg.user ? peer_cfg.user : "guest",
                                  peer_cfg.password ? peer_cfg.password : "guest");
  if (r.reply_type != AMQP_RESPONSE_NORMAL)
    peer_fail("login failed: %s", reply_text(r));
  amqp_channel_open(c, 1);
  check_rpc(c, "channel.open");
  return c;
}

static void close_rabbitmq(amqp_connection_state_t c) {
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

// Reads frames until every publish of the batch [base, base + k) is confirmed.
static void wait_confirms(amqp_connection_state_t c, int producer, uint64_t base, int k,
                          unsigned char* confirmed) {
  if (k <= 0)
    return;
  memset(confirmed, 0, (size_t)k);
  int remaining = k;
  while (remaining > 0) {
    amqp_frame_t f;
    struct timeval timeout = {30, 0};
    int rc = amqp_simple_wait_frame_noblock(c, &f, &timeout);
    if (rc != AMQP_STATUS_OK)
      peer_fail("producer %d: waiting for confirms: %s", producer, amqp_error_string2(rc));
    if (f.frame_type != AMQP_FRAME_METHOD)
      continue;
    if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      amqp_basic_ack_t* ack = f.payload.method.decoded;
      uint64_t lo = ack->multiple ? base : ack->delivery_tag;
      for (uint64_t tag = lo; tag <= ack->delivery_tag; tag++) {
        if (tag < base || tag >= base + (uint64_t)k)
          continue;
        if (!confirmed[tag - base])
          remaining--;
        confirmed[tag - base] = 1;
      }
    } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      peer_fail("producer %d: the broker refused (nack) a publish", producer);
    } else if (f.payload.method.id == AMQP_BASIC_RETURN_METHOD) {
      peer_fail("producer %d: a publish was returned unroutable", producer);
    } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD
               || f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      peer_fail("producer %d: the broker closed the channel", producer);
    }
  }
}

static void produce(int producer, long first, long count) {
  amqp_connection_state_t c = connect_rabbitmq();
  amqp_confirm_select(c, 1);
  check_rpc(c, "confirm.select");
  char* buf = peer_alloc((size_t)peer_cfg.size + 1);
  unsigned char* confirmed = peer_alloc((size_t)peer_cfg.batch);
  peer_fill(buf);
  amqp_basic_properties_t props = {._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
                                   .delivery_mode = AMQP_DELIVERY_PERSISTENT};
  amqp_bytes_t body = {(size_t)peer_cfg.size, buf};
  uint64_t next_tag = 1; // confirm mode numbers a channel's publishes from 1
  for (long done = 0; done < count;) {
    int k = count - done < peer_cfg.batch ? (int)(count - done) : peer_cfg.batch;
    for (int i = 0; i < k; i++) {
      peer_stamp(buf, first + done + i);
      int rc =
        amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(QUEUE), 0, 0, &props, body);
      if (rc != AMQP_STATUS_OK)
        peer_fail("producer %d: publish failed: %s", producer, amqp_error_string2(rc));
    }
    wait_confirms(c, producer, next_tag, k, confirmed);
    next_tag += (uint64_t)k;
    done += k;
    amqp_maybe_release_buffers(c);
  }
  free(confirmed);
  free(buf);
  close_rabbitmq(c);
}

static void consume(struct peer_consumer* pc) {
  amqp_connection_state_t c = connect_rabbitmq();
  // Two batches in flight, so the broker refills while this consumer acks.
  int prefetch = peer_cfg.batch * 2 > 65535 ? 65535 : peer_cfg.batch * 2;
  amqp_basic_qos(c, 1, 0, (uint16_t)prefetch, 0);
  check_rpc(c, "basic.qos");
  amqp_basic_consume(c, 1, amqp_cstring_bytes(QUEUE), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  check_rpc(c, "basic.consume");
  while (!peer_finished()) {
    int k = 0;
    uint64_t last_tag = 0;
    while (k < peer_cfg.batch) {
      // Wait (boundedly, to see the end of the run) for a batch's first
      // message; then take only what has already arrived.
      struct timeval timeout = {0, k == 0 ? 100000 : 0};
      amqp_envelope_t env;
      amqp_maybe_release_buffers(c);
      amqp_rpc_reply_t r = amqp_consume_message(c, &env, &timeout, 0);
      if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        peer_take(pc, env.message.body.bytes, env.message.body.len);
        last_tag = env.delivery_tag;
        k++;
        amqp_destroy_envelope(&env);
        continue;
      }
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        break;
      peer_fail("consumer %d: receive failed: %s", pc->id, reply_text(r));
    }
    if (k > 0) {
      int rc = amqp_basic_ack(c, 1, last_tag, 1);
      if (rc != AMQP_STATUS_OK)
        peer_fail("consumer %d: ack failed: %s", pc->id, amqp_error_string2(rc));
      peer_acked(pc);
    }
  }
  close_rabbitmq(c);
}

int main(int argc, char** argv) {
  peer_parse_args(argc, argv, "rabbitmq", 5672);
  amqp_connection_state_t c = connect_rabbitmq();
  amqp_queue_delete(c, 1, amqp_cstring_bytes(QUEUE), 0, 0);
  check_rpc(c, "queue.delete");
  amqp_table_entry_t type = {amqp_cstring_bytes("x-queue-type"),
                             {AMQP_FIELD_KIND_UTF8, {.bytes = amqp_cstring_bytes("quorum")}}};
  amqp_table_t args = {1, &type};
  amqp_queue_declare(c, 1, amqp_cstring_bytes(QUEUE), 0, 1, 0, 0, args);
  check_rpc(c, "queue.declare (quorum)");
  close_rabbitmq(c);
  return peer_run(produce, consume, "quorum queue, confirms after Raft fsync; acks unconfirmed");
}
