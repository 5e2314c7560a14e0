#include "shared/store/kv_watcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace proxyos::store {

namespace {

// How long the server keeps a consumer nobody listens to (a watcher that
// died without deleting it, or one whose delete request was lost).
constexpr std::chrono::seconds kInactiveThreshold{10};
// Pause between attempts to recreate a consumer while NATS does not answer,
// and between reads of the stream once they found nothing new.
constexpr std::chrono::milliseconds kRecreateRetry{250};
// Entries read from the stream in a row before the next consumer attempt.
constexpr int kMaxReadBurst = 100;

int64_t nanos(std::chrono::milliseconds d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

}  // namespace

KvWatcher::KvWatcher(std::shared_ptr<NatsConnection> conn, std::string bucket, std::string filter, const Clock& clock,
                     KvWatchOptions options)
    : conn_(std::move(conn)),
      bucket_(std::move(bucket)),
      stream_("KV_" + bucket_),
      prefix_("$KV." + bucket_ + "."),
      filter_(std::move(filter)),
      clock_(clock),
      options_(options) {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = options_.createTimeout.count();
  if (natsConnection_JetStream(&js_, conn_->raw(), &opts) != NATS_OK) js_ = nullptr;
}

KvWatcher::~KvWatcher() {
  dropConsumer();
  if (js_ != nullptr) jsCtx_Destroy(js_);
}

void KvWatcher::stop() { dropConsumer(); }

void KvWatcher::touch() { lastContact_.store(clock_.monotonic().time_since_epoch().count()); }

Status KvWatcher::start() { return createConsumer(); }

Status KvWatcher::createConsumer() {
  dropConsumer();
  natsInbox* inbox = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  natsSubscription* sub = nullptr;
  // Subscribed before the consumer exists, so its first deliveries find us.
  if (s == NATS_OK) s = natsConnection_SubscribeSync(&sub, conn_->raw(), inbox);
  jsConsumerInfo* ci = nullptr;
  if (s == NATS_OK) {
    const std::string subject = prefix_ + filter_;
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.DeliverSubject = inbox;
    cc.FilterSubject = subject.c_str();
    cc.AckPolicy = js_AckNone;
    cc.MaxDeliver = 1;
    cc.FlowControl = true;
    cc.Heartbeat = nanos(options_.heartbeat);
    cc.InactiveThreshold = nanos(kInactiveThreshold);
    // What NATS.c's ordered consumers use: nothing to survive, so one replica in memory.
    cc.MemoryStorage = true;
    cc.Replicas = 1;
    if (phase_ == Phase::Snapshot) {
      cc.DeliverPolicy = js_DeliverLastPerSubject;
    } else {
      cc.DeliverPolicy = js_DeliverByStartSequence;
      cc.OptStartSeq = lastRevision_ + 1;
    }
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_AddConsumer(&ci, js_ != nullptr ? js_ : conn_->jetStream(), stream_.c_str(), &cc, nullptr, &jerr);
  }
  natsInbox_Destroy(inbox);
  if (s != NATS_OK) {
    Error e = natsError(s, "watch " + bucket_);
    if (sub != nullptr) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    return e;
  }
  sub_ = sub;
  consumer_ = ci->Name != nullptr ? ci->Name : "";
  consumerSeq_ = 0;
  if (phase_ == Phase::Snapshot && ci->NumPending == 0) snapshotDone_ = true;  // nothing to deliver
  jsConsumerInfo_Destroy(ci);
  touch();
  return okStatus();
}

void KvWatcher::dropConsumer() {
  if (sub_ != nullptr) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
    sub_ = nullptr;
  }
  if (!consumer_.empty() && conn_->connected()) {
    // Fire and forget: waiting for the answer would hold up recovery by a
    // whole request timeout when the consumer's node is the one that died.
    const std::string subject = "$JS.API.CONSUMER.DELETE." + stream_ + "." + consumer_;
    natsInbox* reply = nullptr;
    if (natsInbox_Create(&reply) == NATS_OK) {
      natsConnection_PublishRequest(conn_->raw(), subject.c_str(), reply, nullptr, 0);
      natsInbox_Destroy(reply);
    }
  }
  consumer_.clear();
}

void KvWatcher::lose(const std::string& why) {
  if (!lost_)
    spdlog::warn("watch of {}: {}; resuming after revision {} with a new consumer", bucket_, why, lastRevision_);
  lost_ = true;
  dropConsumer();
}

bool KvWatcher::onStatus(natsMsg* msg, const char* status) {
  if (std::strcmp(status, "100") != 0) return false;  // e.g. 409 Consumer Deleted
  natsConnection* nc = conn_->raw();
  // Flow control request: the server holds further deliveries until we answer.
  if (const char* reply = natsMsg_GetReply(msg); reply != nullptr && *reply != '\0')
    natsConnection_Publish(nc, reply, nullptr, 0);
  // A heartbeat may say the server still waits for a flow control answer that was lost.
  const char* stalled = nullptr;
  if (natsMsgHeader_Get(msg, "Nats-Consumer-Stalled", &stalled) == NATS_OK && stalled != nullptr && *stalled != '\0')
    natsConnection_Publish(nc, stalled, nullptr, 0);
  // A heartbeat names the last consumer sequence sent: if we did not get it,
  // deliveries were lost (e.g. while the connection moved to another node).
  const char* last = nullptr;
  if (natsMsgHeader_Get(msg, "Nats-Last-Consumer", &last) == NATS_OK && last != nullptr)
    return std::strtoull(last, nullptr, 10) == consumerSeq_;
  return true;
}

KvEntry KvWatcher::entryOf(natsMsg* msg, uint64_t revision, int64_t timestampNanos) const {
  KvEntry entry;
  const char* subject = natsMsg_GetSubject(msg);
  entry.key = std::strncmp(subject, prefix_.c_str(), prefix_.size()) == 0 ? subject + prefix_.size() : subject;
  const char* data = natsMsg_GetData(msg);
  entry.value.assign(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)));
  const char* op = nullptr;
  if (natsMsgHeader_Get(msg, "KV-Operation", &op) == NATS_OK && op != nullptr) {
    if (std::strcmp(op, "DEL") == 0) entry.op = KvEntry::Op::Delete;
    else if (std::strcmp(op, "PURGE") == 0) entry.op = KvEntry::Op::Purge;
  }
  entry.revision = revision;
  entry.created = Clock::WallTime{
      std::chrono::duration_cast<Clock::WallTime::duration>(std::chrono::nanoseconds{timestampNanos})};
  return entry;
}

std::optional<KvEntry> KvWatcher::readStored() {
  if (js_ == nullptr) return std::nullopt;
  const std::string subject = prefix_ + filter_;
  jsDirectGetMsgOptions get;
  jsDirectGetMsgOptions_Init(&get);
  get.Sequence = lastRevision_ + 1;
  get.NextBySubject = subject.c_str();
  natsMsg* msg = nullptr;
  const natsStatus s = js_DirectGetMsg(&msg, js_, stream_.c_str(), nullptr, &get);
  if (s == NATS_NOT_FOUND) touch();  // the stream answered: nothing after lastRevision_
  if (s != NATS_OK) return std::nullopt;
  touch();
  const uint64_t revision = natsMsg_GetSequence(msg);
  std::optional<KvEntry> entry;
  if (revision > lastRevision_) {
    entry = entryOf(msg, revision, natsMsg_GetTime(msg));
    lastRevision_ = revision;
    ++directReads_;
  }
  natsMsg_Destroy(msg);
  return entry;
}

Result<KvWatcher::Event> KvWatcher::next(std::chrono::milliseconds timeout) {
  const auto deadline = clock_.monotonic() + timeout;
  const auto snapshotLost = [this](const std::string& why) -> Result<Event> {
    dropConsumer();
    return Error::make(ErrorKind::Unavailable, "nats_unavailable", "watch of " + bucket_ + " " + why);
  };
  for (;;) {
    if (phase_ == Phase::Snapshot && snapshotDone_) {
      phase_ = Phase::Live;
      if (auto st = createConsumer(); !st) lose(st.error().message);
      return Event{Event::Type::SnapshotComplete, {}};
    }
    auto now = clock_.monotonic();
    if (sub_ == nullptr) {
      if (phase_ == Phase::Snapshot) return snapshotLost("was interrupted during its snapshot");
      // No consumer (its node died, or it cannot be made while the meta
      // group elects a leader): read what was stored since, from the stream.
      // A long backlog is read in bursts, with consumer attempts between them.
      const bool mayRead = readBurst_ < kMaxReadBurst;
      if (mayRead && now >= nextRead_ && conn_->connected()) {
        if (auto entry = readStored()) {
          ++readBurst_;
          ++readWhileLost_;
          return Event{Event::Type::Entry, std::move(*entry)};
        }
        nextRead_ = clock_.monotonic() + kRecreateRetry;
        now = clock_.monotonic();
      }
      if (now >= nextAttempt_ && conn_->connected()) {
        readBurst_ = 0;
        if (auto st = createConsumer(); st) {
          ++recreations_;
          if (lost_)
            spdlog::info("watch of {} resumed after revision {} ({} entries read from the stream meanwhile)", bucket_,
                         lastRevision_, readWhileLost_);
          lost_ = false;
          readWhileLost_ = 0;
          continue;
        }
        nextAttempt_ = clock_.monotonic() + kRecreateRetry;
        now = clock_.monotonic();
      }
      if (now >= deadline) return Event{};
      // Nothing to block on until the next attempt or read.
      const auto wake = readBurst_ < kMaxReadBurst ? std::min(nextAttempt_, nextRead_) : nextAttempt_;
      std::this_thread::sleep_for(std::min(deadline, std::max(wake, now + std::chrono::milliseconds(10))) - now);
      if (clock_.monotonic() >= deadline) return Event{};
      continue;
    }

    const auto stallAt = lastContact() + options_.stallAfter;
    if (now >= stallAt) {
      if (phase_ == Phase::Snapshot) return snapshotLost("stalled during its snapshot");
      lose("no message or heartbeat for " + std::to_string(options_.stallAfter.count()) + " ms");
      continue;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::min(deadline, stallAt) - now);
    natsMsg* msg = nullptr;
    natsStatus s = natsSubscription_NextMsg(&msg, sub_, std::max<int64_t>(1, wait.count()));
    if (s == NATS_TIMEOUT) {
      if (clock_.monotonic() >= deadline) return Event{};
      continue;
    }
    if (s != NATS_OK) {  // e.g. NATS_SLOW_CONSUMER: messages were dropped
      if (phase_ == Phase::Snapshot) return snapshotLost(std::string("failed: ") + natsStatus_GetText(s));
      lose(natsStatus_GetText(s));
      continue;
    }
    touch();

    const char* status = nullptr;
    if (natsMsgHeader_Get(msg, "Status", &status) == NATS_OK && status != nullptr) {
      const bool fine = onStatus(msg, status);
      natsMsg_Destroy(msg);
      if (fine) continue;
      if (phase_ == Phase::Snapshot) return snapshotLost("lost deliveries during its snapshot");
      lose("the consumer lost deliveries or was deleted");
      continue;
    }
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {  // not from the consumer
      natsMsg_Destroy(msg);
      continue;
    }
    if (meta->Sequence.Consumer != consumerSeq_ + 1) {
      jsMsgMetaData_Destroy(meta);
      natsMsg_Destroy(msg);
      if (phase_ == Phase::Snapshot) return snapshotLost("lost deliveries during its snapshot");
      lose("deliveries were lost");
      continue;
    }
    consumerSeq_ = meta->Sequence.Consumer;
    const uint64_t revision = meta->Sequence.Stream;
    if (phase_ == Phase::Live && revision <= lastRevision_) {  // never twice
      jsMsgMetaData_Destroy(meta);
      natsMsg_Destroy(msg);
      continue;
    }
    Event ev{Event::Type::Entry, entryOf(msg, revision, meta->Timestamp)};
    if (phase_ == Phase::Snapshot && meta->NumPending == 0) snapshotDone_ = true;
    jsMsgMetaData_Destroy(meta);
    natsMsg_Destroy(msg);
    lastRevision_ = std::max(lastRevision_, revision);
    return ev;
  }
}

}  // namespace proxyos::store
