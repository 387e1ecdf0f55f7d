// SPDX-License-Identifier: Apache-2.0
// The peers workload on NATS JetStream (libnats): a file-storage work-queue
// stream with one durable pull consumer shared by all consumer threads.
// Producers publish a batch asynchronously and wait until every publish is
// acknowledged; consumers Fetch up to a batch and ack each message, the last
// one synchronously, so its reply means the server has processed the whole
// batch's acks (they travel in order on one connection).
//
// Why not AckAll on the last message: a work-queue stream requires explicit
// acks, and with several consumers on one consumer AckAll would also ack
// messages another thread still holds.
//
// nats-server 2.9 answers a publish once the message is written to its block
// file, without an fsync; it syncs in the background (every 60 s). 2.10 added
// sync_interval: always, which 2.9 lacks.
#include "peer_common.h"

#include <nats/nats.h>

#define STREAM "PEERS"
#define SUBJECT "peers.q"
#define CONSUMER "workers"

static void check(natsStatus s, jsErrCode jerr, const char* what) {
  if (s != NATS_OK)
    peer_fail("%s failed: %s (JetStream error %d: %s)", what, natsStatus_GetText(s), (int)jerr,
              nats_GetLastError(NULL));
}

static void on_publish_error(jsCtx* js, jsPubAckErr* pae, void* closure) {
  (void)js;
  (void)closure;
  peer_fail("a publish failed: %s (JetStream error %d: %s)", natsStatus_GetText(pae->Err),
            (int)pae->ErrCode, pae->ErrText ? pae->ErrText : "");
}

static natsConnection* connect_nats(void) {
  char url[300];
  snprintf(url, sizeof url, "nats://%s:%d", peer_cfg.host, peer_cfg.port);
  natsConnection* nc = NULL;
  natsStatus s = natsConnection_ConnectTo(&nc, url);
  if (s != NATS_OK)
    peer_fail("cannot connect to %s: %s", url, natsStatus_GetText(s));
  return nc;
}

static void produce(int producer, long first, long count) {
  natsConnection* nc = connect_nats();
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = peer_cfg.batch;
  jo.PublishAsync.ErrHandler = on_publish_error;
  jsCtx* js = NULL;
  check(natsConnection_JetStream(&js, nc, &jo), 0, "JetStream context");
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 30000;
  char* buf = peer_alloc((size_t)peer_cfg.size + 1);
  peer_fill(buf);
  for (long done = 0; done < count;) {
    long k = count - done < peer_cfg.batch ? count - done : peer_cfg.batch;
    for (long i = 0; i < k; i++) {
      peer_stamp(buf, first + done + i);
      natsStatus s = js_PublishAsync(js, SUBJECT, buf, peer_cfg.size, NULL);
      if (s != NATS_OK)
        peer_fail("producer %d: publish failed: %s", producer, natsStatus_GetText(s));
    }
    natsStatus s = js_PublishAsyncComplete(js, &wait);
    if (s != NATS_OK)
      peer_fail("producer %d: waiting for publish acks: %s", producer, natsStatus_GetText(s));
    done += k;
  }
  free(buf);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

static void consume(struct peer_consumer* pc) {
  natsConnection* nc = connect_nats();
  jsCtx* js = NULL;
  check(natsConnection_JetStream(&js, nc, NULL), 0, "JetStream context");
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = STREAM;
  so.Consumer = CONSUMER;
  natsSubscription* sub = NULL;
  jsErrCode jerr = 0;
  check(js_PullSubscribe(&sub, js, SUBJECT, CONSUMER, NULL, &so, &jerr), jerr, "pull subscribe");
  while (!peer_finished()) {
    natsMsgList list = {0};
    // The timeout bounds the wait so that the thread sees the end of the run.
    natsStatus s = natsSubscription_Fetch(&list, sub, peer_cfg.batch, 100, &jerr);
    if (s == NATS_TIMEOUT)
      continue;
    check(s, jerr, "fetch");
    int k = list.Count;
    for (int i = 0; i < k; i++) {
      natsMsg* m = list.Msgs[i];
      peer_take(pc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
      if (i + 1 < k)
        s = natsMsg_Ack(m, NULL);
      else
        s = natsMsg_AckSync(m, NULL, &jerr);
      check(s, jerr, "ack");
    }
    natsMsgList_Destroy(&list);
    if (k > 0)
      peer_acked(pc);
  }
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

int main(int argc, char** argv) {
  peer_parse_args(argc, argv, "nats", 4222);
  natsConnection* nc = connect_nats();
  jsCtx* js = NULL;
  check(natsConnection_JetStream(&js, nc, NULL), 0, "JetStream context");
  jsErrCode jerr = 0;
  natsStatus s = js_DeleteStream(js, STREAM, NULL, &jerr);
  if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
    check(s, jerr, "delete stream");
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  const char* subjects[] = {SUBJECT};
  sc.Name = STREAM;
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Retention = js_WorkQueuePolicy; // an acked message is removed, as in a queue
  sc.Replicas = 1;
  check(js_AddStream(NULL, js, &sc, NULL, &jerr), jerr, "add stream");
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = CONSUMER;
  cc.AckPolicy = js_AckExplicit;
  // The default (1000 in 2.9) would cap the consumers below their batches.
  cc.MaxAckPending = (int64_t)peer_cfg.consumers * peer_cfg.batch * 2;
  check(js_AddConsumer(NULL, js, STREAM, &cc, NULL, &jerr), jerr, "add consumer");
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return peer_run(produce, consume, "JetStream file store, R1 (no fsync per message in 2.9)");
}
